"""The compact index changes nothing a user sees: same sequences, boxes, visibility, frame keys, test
sequences and sampled batches as the readers before it (pinned in index_reference.json, see index_reference.py)."""

import json
import math

import pytest

from .index_reference import REFERENCE, record, write_all


@pytest.fixture(scope="module")
def current(tmp_path_factory):
    return record(write_all(tmp_path_factory.mktemp("layouts")))


@pytest.fixture(scope="module")
def reference():
    return json.loads(REFERENCE.read_text())


def _same(a, b, rel):
    """Structural equality; floats within ``rel`` (0 = exact), None/NaN as written by the recorder."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], rel) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=rel, abs_tol=rel)
    return a == b


@pytest.mark.parametrize("part", ["datasets", "benchmarks"])
def test_sequences_boxes_visibility_and_frame_keys_unchanged(current, reference, part):
    assert current[part].keys() == reference[part].keys()
    for name in reference[part]:
        assert _same(current[part][name], reference[part][name], 0.0), name


@pytest.mark.parametrize("mode", ["causal", "trident", "trident_pro"])
def test_same_seed_same_sampled_batches(current, reference, mode):
    for index, (got, want) in enumerate(zip(current["samples"][mode], reference["samples"][mode], strict=True)):
        ids = ("dataset", "sequence", "template_ids", "search_sequence", "search_ids", "mask_sums")
        assert {k: got[k] for k in ids} == {k: want[k] for k in ids}, (mode, index)
        # crops are float32 work of OpenCV/torch: equal up to rounding across machines
        assert _same(got, want, 1e-5), (mode, index)
