"""Result files: official layout, exact floats, integer truncation, lenient reading."""

import numpy as np
import pytest

from lib.evaluation import results_io as rio


def test_layout_matches_official(tmp_path):
    assert rio.results_folder(tmp_path, "stark_st", "baseline", "lasot") == tmp_path / "stark_st" / "baseline"
    assert rio.results_folder(tmp_path, "stark_st", "baseline", "got10k_test", 3) == (
        tmp_path / "stark_st" / "baseline_003" / "got10k"
    )
    assert rio.results_folder(tmp_path, "stark_s", "b", "trackingnet").name == "trackingnet"


def test_float_roundtrip_is_exact_and_tab_separated(tmp_path):
    boxes = np.array([[1.0 / 3.0, 2.5, 100.123456789, 7.0], [0.1, 0.2, 0.3, 1e-3]])
    rio.write_sequence_result(tmp_path, "seq", boxes, times=[0.5, 0.25])
    text = (tmp_path / "seq.txt").read_text().splitlines()
    assert len(text) == 2 and text[0].count("\t") == 3
    np.testing.assert_array_equal(rio.read_boxes(tmp_path / "seq.txt"), boxes)
    np.testing.assert_allclose(rio.read_times(tmp_path / "seq_time.txt"), [0.5, 0.25])
    assert rio.is_finished(tmp_path, "seq") and not rio.is_finished(tmp_path, "other")


def test_integer_flag_truncates_like_astype_int(tmp_path):
    rio.write_sequence_result(tmp_path, "s", np.array([[1.9, -0.5, 2.999, 4.0]]), integer=True)
    assert (tmp_path / "s.txt").read_text() == "1\t0\t2\t4\n"


def test_reader_accepts_comma_and_space(tmp_path):
    (tmp_path / "a.txt").write_text("1,2,3,4\n5 6  7\t8\n\n")
    np.testing.assert_array_equal(rio.read_boxes(tmp_path / "a.txt"), [[1, 2, 3, 4], [5, 6, 7, 8]])


def test_bad_file_one_line_error(tmp_path):
    (tmp_path / "b.txt").write_text("1,2,3,4\n1,2,3\n")
    with pytest.raises(rio.ResultsError, match=r"b.txt:2: expected 4 values"):
        rio.read_boxes(tmp_path / "b.txt")
    with pytest.raises(rio.ResultsError, match="not found"):
        rio.read_boxes(tmp_path / "missing.txt")
