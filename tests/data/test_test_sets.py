"""Seven more test sets: the shipped benchmark tables, each layout read from a generated copy, the annotation rules."""

import logging
import runpy
import shutil

import numpy as np
import pytest

from lib.config import LocalSettings
from lib.config.loader import PROJECT_ROOT
from lib.data import test_sets
from lib.data.errors import DatasetError
from lib.data.image_source import FolderSource
from lib.data.registry import benchmark_names, load_test_sequences
from lib.data.synthetic_layouts import generate_test_set

SMALL = {"width": 96, "height": 72}
FRAMES = 12


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    root = tmp_path_factory.mktemp("test_sets")
    for layout in ("otb", "uav123", "nfs", "tc128", "tnl2k", "lasot_extension", "avist"):
        generate_test_set(layout, root / layout, 3, FRAMES, seed=7, **SMALL)
    return root


def _settings(root) -> LocalSettings:
    keys = {"otb": "otb", "uav": "uav123", "nfs": "nfs", "tc128": "tc128", "tnl2k": "tnl2k",
            "lasot_extension": "lasot_extension", "avist": "avist"}  # fmt: skip
    return LocalSettings(data_dir=str(root), **{f"{k}_dir": str(root / v) for k, v in keys.items()})


def test_shipped_tables_hold_the_benchmarks_facts():
    otb = {r.name: r for r in test_sets.read_spec("otb100_sequences.txt")}
    assert len(otb) == 100
    assert (otb["David"].start, otb["David"].end) == (300, 770)
    assert otb["Tiger1"].omit == 5 and otb["Board"].digits == 5 and otb["KiteSurf"].ext == "png"
    assert (otb["Jogging_2"].folder, otb["Jogging_2"].anno) == ("Jogging", "groundtruth_rect.2.txt")
    assert {"Skating2_1", "Skating2_2", "Football1", "Freeman3", "Freeman4"} <= set(otb)
    uav = {r.name: r for r in test_sets.read_spec("uav123_sequences.txt")}
    assert len(uav) == 123 and (uav["bird1_2"].folder, uav["bird1_2"].start, uav["bird1_2"].end) == ("bird1", 775, 1477)
    assert len(test_sets.read_spec("nfs30_sequences.txt")) == 100
    for spec, count in (("lasot_extension_sequences.txt", 150), ("avist_sequences.txt", 120)):
        names = [n for n in test_sets.read_split_file(spec) if not n.startswith("#")]
        assert len(names) == len(set(names)) == count


def test_every_benchmark_is_a_test_py_choice():
    names = set(benchmark_names())
    expected = {"otb", "uav123", "nfs", "tc128", "tnl2k", "lasot_extension", "avist", "otb_all", "avist_all"}
    assert expected <= names and {"lasot", "got10k_test", "trackingnet"} <= names


@pytest.mark.parametrize(
    "benchmark, first_frame, names",
    [
        ("otb_all", "Synth01/img/0001.jpg", ["Synth01_1", "Synth01_2", "Synth02", "Synth03"]),
        ("uav123_all", "data_seq/UAV123/synth1/000001.jpg", ["synth1", "synth2", "synth3"]),
        ("nfs_all", "sequences/synth_1/00001.jpg", ["synth_1", "synth_2", "synth_3"]),
        ("tc128", "Synth_1/img/0001.jpg", ["Synth_1", "Synth_2", "Synth_3"]),
        ("tnl2k", "synth_1/imgs/00001.png", ["synth_1", "synth_2", "synth_3"]),
        ("lasot_extension_all", "atv/atv-1/img/00000001.jpg", ["atv-1", "badminton-1", "cosplay-1"]),
        ("avist_all", "sequences/synth_in_fog_1/img_00001.jpg", ["synth_in_fog_1", "synth_in_fog_2", "synth_in_fog_3"]),
    ],
)
def test_generated_copy_reads(roots, benchmark, first_frame, names):
    seqs = load_test_sequences(benchmark, _settings(roots))
    assert [s.name for s in seqs] == names
    seq = seqs[0]
    assert seq.frames[0] == first_frame and len(seq) == FRAMES and seq.ground_truth.shape == (FRAMES, 4)
    assert seq.read_frame(FRAMES - 1).shape == (72, 96, 3)
    assert (seq.target_visible is not None) == benchmark.startswith(("lasot", "avist"))


def test_otb_two_targets_and_whitespace_annotation(roots):
    seqs = {s.name: s for s in load_test_sequences("otb_all", _settings(roots))}
    one, two = seqs["Synth01_1"], seqs["Synth01_2"]
    assert one.frames == two.frames
    np.testing.assert_array_equal(two.ground_truth - one.ground_truth, np.tile([1.0, 1.0, 0.0, 0.0], (FRAMES, 1)))
    tabbed = (roots / "otb" / "Synth02" / "groundtruth_rect.txt").read_text().splitlines()[0].split("\t")
    np.testing.assert_array_equal(seqs["Synth02"].ground_truth[0], [float(v) for v in tabbed])


def test_flags_give_visibility(roots):
    seq = load_test_sequences("avist_all", _settings(roots))[1]
    folder = roots / "avist"
    (folder / "out_of_view" / f"{seq.name}_out_of_view.txt").write_text(",".join(["0"] * 10 + ["1", "1"]) + "\n")
    again = load_test_sequences("avist_all", _settings(roots))[1]
    assert again.target_visible.tolist()[-2:] == [False, False]


def test_table_ranges_and_omitted_frames_apply(roots, caplog):
    """A table row: frames start+omit..end, the first omit annotation lines dropped, surplus lines dropped and logged."""
    source = FolderSource(roots / "otb")
    row = test_sets.SpecRow("Synth03", start=3, end=10, omit=2)
    with caplog.at_level(logging.WARNING):
        seq = test_sets._range_sequence(source, "otb", test_sets.RANGE_LAYOUTS["otb"], row)
    lines = (roots / "otb" / "Synth03" / "groundtruth_rect.txt").read_text().splitlines()
    assert seq.frames[0] == "Synth03/img/0005.jpg" and seq.frames[-1] == "Synth03/img/0010.jpg"
    np.testing.assert_array_equal(seq.ground_truth[0], [float(v) for v in lines[2].split(",")])
    assert len(seq) == 6 and "10 annotation lines for 6 frames; the extra lines are dropped" in caplog.text
    assert "groundtruth_rect.txt" in caplog.text


def test_full_list_names_missing_sequences(roots):
    with pytest.raises(DatasetError, match=r"100 of 100 sequences named by lib/data_specs/otb100.*use the dataset name otb_all"):
        load_test_sequences("otb", _settings(roots))
    with pytest.raises(DatasetError, match=r"147 of 150 .* \(first: atv-2, atv-3, atv-4\).* lasot_extension_all"):
        load_test_sequences("lasot_extension", _settings(roots))


@pytest.fixture()
def copy(roots, tmp_path):
    def make(layout):
        shutil.copytree(roots / layout, tmp_path / layout)
        return tmp_path / layout

    return make


def test_more_annotation_lines_than_frames_rule_logged(copy, caplog):
    root = copy("tc128")
    (root / "Synth_2" / "Synth_2_frames.txt").write_text("1,9\n")
    with caplog.at_level(logging.WARNING):
        seq = test_sets.load_sequences("tc128", FolderSource(root))[1]
    assert len(seq) == 9 and seq.ground_truth.shape == (9, 4)
    assert "Synth_2_gt.txt: 12 annotation lines for 9 frames; the extra lines are dropped" in caplog.text


def test_fewer_annotation_lines_or_missing_frames_are_errors(copy):
    root = copy("tc128")
    gt = root / "Synth_1" / "Synth_1_gt.txt"
    gt.write_text("".join(gt.read_text().splitlines(keepends=True)[:10]))
    with pytest.raises(DatasetError, match=r"Synth_1_gt.txt: 10 annotation lines for 12 frames"):
        test_sets.load_sequences("tc128", FolderSource(root))
    (root / "Synth_1" / "Synth_1_frames.txt").write_text("1,30\n")
    with pytest.raises(DatasetError, match=r"Synth_1/img/0030.jpg: frame missing \(the range of Synth_1 is 1..30\)"):
        test_sets.load_sequences("tc128", FolderSource(root))


def test_nan_row_is_absent_on_uav123_and_an_error_elsewhere(copy, caplog):
    uav = copy("uav123")
    anno = uav / "anno" / "UAV123" / "synth2.txt"
    lines = anno.read_text().splitlines()
    lines[4] = "NaN,NaN,NaN,NaN"
    anno.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.INFO):
        seq = test_sets.load_sequences("uav123_all", FolderSource(uav))[1]
    assert np.isnan(seq.ground_truth[4]).all() and not np.isnan(seq.ground_truth[5]).any()
    assert "synth2.txt: 1 NaN rows read as 'target absent' (UAV123 rule)" in caplog.text
    nfs = copy("nfs")
    anno = nfs / "anno" / "nfs_synth_1.txt"
    lines = anno.read_text().splitlines()
    lines[2] = "nan\tnan\tnan\tnan"
    anno.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"nfs_synth_1.txt line 3: NaN annotation row"):
        test_sets.load_sequences("nfs_all", FolderSource(nfs))


def test_make_synthetic_dataset_cli_writes_test_layouts(tmp_path):
    entry = runpy.run_path(str(PROJECT_ROOT / "scripts" / "make_synthetic_dataset.py"), run_name="make_synthetic")
    small = ["--width", "64", "--height", "48", "--sequences", "2", "--frames", "4"]
    assert entry["main"](["--format", "tnl2k", "--out", str(tmp_path / "tnl2k"), *small]) == 0
    assert [s.name for s in test_sets.load_sequences("tnl2k", FolderSource(tmp_path / "tnl2k"))] == ["synth_1", "synth_2"]
    lasot = ["--format", "lasot", "--out", str(tmp_path / "lasot"), "--width", "64", "--height", "48"]
    assert entry["main"]([*lasot, "--sequences", "3", "--frames", "2"]) == 0
    assert entry["main"](["--format", "lasot_attributes", "--out", str(tmp_path / "lasot")]) == 0
    files = sorted((tmp_path / "lasot" / "annos" / "att").glob("*.txt"))
    assert [f.stem for f in files] == ["airplane-1", "basketball-1", "bear-1"]
    assert all(len(f.read_text().strip().split(",")) == 14 for f in files)
    # attributes are only added to a set the generator wrote, never to a real LaSOT root
    real = tmp_path / "real_lasot"
    shutil.copytree(tmp_path / "lasot", real)
    (real / ".stark_synthetic.json").unlink()
    shutil.rmtree(real / "annos")
    assert entry["main"](["--format", "lasot_attributes", "--out", str(real)]) == 2
    assert not (real / "annos").exists()
