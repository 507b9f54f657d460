"""Every metric convention against numbers computed by hand in the comments."""

import numpy as np
import pytest

from lib.evaluation import metrics as m


def test_iou_inclusive_hand_values():
    # [0,0,10,10] vs [5,5,10,10]: br = min(9, 14) = 9 -> side 9 - 5 + 1 = 5 -> inter 25; union 175
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 2, 2]], dtype=float)
    gt = np.array([[5, 5, 10, 10], [10, 0, 10, 10], [0, 0, 2, 2]], dtype=float)
    # second pair touches at x = 10: br 9 vs tl 10 -> side 0; third is identical -> 1
    np.testing.assert_allclose(m.iou_inclusive(pred, gt), [25 / 175, 0.0, 1.0])


def test_centre_uses_minus_one_rule():
    # centre = x + (w - 1) / 2: [10, 10, 20, 20] -> (19.5, 19.5)
    np.testing.assert_allclose(m.centers_inclusive(np.array([[10, 10, 20, 20.0]])), [[19.5, 19.5]])


def _pytracking_case():
    gt = np.array([[10, 10, 20, 20], [10, 10, 20, 20], [10, 10, 20, 20], [10, 10, 0, 0]], dtype=float)
    pred = np.array(
        [
            [0, 0, 5, 5],  # frame 0 is replaced by GT -> IoU 1
            [10, 10, 20, 20],  # IoU 1, error 0
            [20, 10, 20, 20],  # inter (29-20+1)*(20) = 200, union 600 -> 1/3; centre error 10 px, 0.5 normalised
            [0, 0, 0, 0],  # zero size -> previous box; GT w=h=0 is invalid anyway
        ],
        dtype=float,
    )
    return pred, gt


def test_pytracking_errors_and_invalid_gt():
    pred, gt = _pytracking_case()
    err = m.pytracking_sequence_errors(pred, gt)
    np.testing.assert_allclose(err.overlap, [1, 1, 1 / 3, -1])
    np.testing.assert_allclose(err.center, [0, 0, 10, np.inf])
    # the official quirk: invalid frames get normalised error -1, i.e. a normalised-precision "hit"
    np.testing.assert_allclose(err.center_norm, [0, 0, 0.5, -1])
    np.testing.assert_array_equal(err.valid, [True, True, True, False])


def test_pytracking_summary_hand_computed():
    pred, gt = _pytracking_case()
    curves = m.pytracking_sequence_curves(m.pytracking_sequence_errors(pred, gt))
    # IoUs [1, 1, 1/3, -1], '>' on 0:0.05:1: t <= 0.30 -> 3/4 (7 thresholds), 0.35..0.95 -> 2/4 (13), 1.0 -> 0
    expected_success = np.array([0.75] * 7 + [0.5] * 13 + [0.0])
    np.testing.assert_allclose(curves["success"], expected_success)
    s = m.pytracking_summary([curves])
    assert s["auc"] == pytest.approx((7 * 0.75 + 13 * 0.5) / 21 * 100)  # 55.95
    assert s["op50"] == pytest.approx(50.0) and s["op75"] == pytest.approx(50.0)
    assert s["precision"] == pytest.approx(75.0)  # errors [0, 0, 10, inf] <= 20 px -> 3/4
    assert s["precision_curve"][5] == pytest.approx(50.0)  # <= 5 px -> 2/4
    assert s["norm_precision"] == pytest.approx(75.0)  # [0, 0, 0.5, -1] <= 0.2 -> 3/4


def test_pytracking_lasot_invisible_frames_fail_and_x0_gt_is_valid():
    pred, gt = _pytracking_case()
    gt[3] = [10, 10, 20, 20]
    pred[3] = [10, 10, 20, 20]  # perfect box, but the target is invisible -> failure everywhere
    visible = np.array([True, True, True, False])
    err = m.pytracking_sequence_errors(pred, gt, visible, dataset="lasot")
    np.testing.assert_allclose(err.overlap, [1, 1, 1 / 3, -1])
    np.testing.assert_allclose(err.center_norm, [0, 0, 0.5, np.inf])
    s = m.pytracking_summary([m.pytracking_sequence_curves(err)])
    assert s["norm_precision"] == pytest.approx(50.0)  # only frames 0, 1
    # STARK's fork keeps GT with x = 0 valid (only w, h > 0 is checked)
    e2 = m.pytracking_sequence_errors(np.array([[0, 0, 20, 20.0], [0, 0, 20, 20]]), np.array([[0, 0, 20, 20.0]] * 2))
    np.testing.assert_allclose(e2.overlap, [1, 1])


def test_pytracking_length_rules():
    gt = np.array([[0, 0, 10, 10.0]] * 3)
    with pytest.raises(m.MetricsError):
        m.pytracking_sequence_errors(gt[:2], gt, dataset="lasot")
    err = m.pytracking_sequence_errors(gt[:2], gt)  # other datasets pad with zero boxes
    np.testing.assert_allclose(err.overlap, [1, 1, 0])
    with pytest.raises(m.MetricsError):
        m.pytracking_sequence_errors(np.array([[0, 0, np.nan, 1.0]] * 3), gt)


def test_sequence_average_not_frame_pooled():
    # seq A (2 frames) all hits, seq B (4 frames) half -> per-sequence mean 0.75 at t = 0, pooled would be 4/6
    a = {"success": np.ones(21), "precision": np.ones(51), "norm_precision": np.ones(51)}
    b = {"success": np.full(21, 0.5), "precision": np.full(51, 0.5), "norm_precision": np.full(51, 0.5)}
    assert m.pytracking_summary([a, b])["auc"] == pytest.approx(75.0)


def test_thresholds_match_the_official_torch_arange():
    assert m.SUCCESS_THRESHOLDS.shape == (21,)
    assert m.SUCCESS_THRESHOLDS[10] == 0.5
    assert m.SUCCESS_THRESHOLDS[15] > 0.75  # torch's float64 arange gives 0.7500000000000001


def test_got10k_frame_pooled_ao_with_exclusions():
    # seq A, image 100 x 50: frame 0 excluded; frame 1: [5,0,10,10] vs [0,0,10,10] -> 50 / 150 = 1/3;
    # frame 2: pred [95,0,10,10] clipped to w 5, GT [90,0,20,10] clipped to w 10 -> 50 / 100 = 0.5
    gt_a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [90, 0, 20, 10]], dtype=float)
    pred_a = np.array([[50, 40, 1, 1], [5, 0, 10, 10], [95, 0, 10, 10]], dtype=float)
    ious_a = m.got10k_sequence_ious(pred_a, gt_a, (100, 50), cover=np.array([8, 8, 3]))
    np.testing.assert_allclose(ious_a, [1 / 3, 0.5])
    # seq B: frame 1 perfect, frame 2 has cover 0 -> dropped from numerator and denominator
    gt_b = np.array([[0, 0, 10, 10]] * 3, dtype=float)
    pred_b = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [60, 30, 5, 5]], dtype=float)
    ious_b = m.got10k_sequence_ious(pred_b, gt_b, (100, 50), cover=np.array([8, 8, 0]))
    np.testing.assert_allclose(ious_b, [1.0])
    s = m.got10k_summary([ious_a, ious_b], [np.array([0.1, 0.2, 0.0]), np.array([np.nan])])
    assert s["ao"] == pytest.approx((1 / 3 + 0.5 + 1.0) / 3 * 100)  # pooled 61.11, not per-sequence 70.83
    assert s["sr50"] == pytest.approx(100 / 3)  # 0.5 is not > 0.5
    assert s["sr75"] == pytest.approx(100 / 3)
    assert s["speed_fps"] == pytest.approx(7.5)  # mean(1/0.1, 1/0.2); zero and NaN ignored
    assert s["success_curve"].shape == (101,)


def test_trackingnet_devkit_rounding_and_trapezoid():
    gt = np.array([[10.4, 10.6, 20, 20], [10, 10, 30, 30]], dtype=float)
    # 12.5 rounds half-to-even to 12: inter (39 - 12 + 1) * 30 = 840, union 960 -> 0.875;
    # centres x + (w + 1) / 2 differ by 2 px -> 2 / 30 = 0.0667 normalised
    pred = np.array([[0, 0, 1, 1], [12.5, 10, 30, 30]], dtype=float)
    c = m.trackingnet_sequence_curves(pred, gt)
    # success '>=' linspace(0,1,21): frame 0 (:= GT) always, frame 1 up to 0.85 -> 18 ones then 3 halves
    np.testing.assert_allclose(c["success"], [1.0] * 18 + [0.5] * 3)
    s = m.trackingnet_summary([c])
    assert s["success_auc"] == pytest.approx(18.75 * 0.05 * 100)  # trapezoid: 17 + 0.75 + 2 * 0.5 = 18.75 units
    assert s["precision_auc"] == pytest.approx(19.75 * 0.05 * 100)  # 2 px fails only t = 0
    assert s["norm_precision_auc"] == pytest.approx(18.75 * 0.05 * 100)  # 0.067 fails t = 0, .025, .05


def test_trackingnet_missing_file_is_zero_boxes():
    gt = np.array([[10, 10, 30, 30], [10, 10, 30, 30]], dtype=float)
    c = m.trackingnet_sequence_curves(None, gt)
    # frame 1 has IoU 0, which still passes '>= 0'
    np.testing.assert_allclose(c["success"], [1.0] + [0.5] * 20)


def test_trackingnet_coverage_is_the_devkit_sanity_check_pooled_over_frames():
    gt = np.full((4, 4), 10.0)
    # frame 0 := GT (covered); 0.4 rounds to 0 -> x+y+w+h = 0 (not covered); a missing line reads NaN (not covered)
    a = m.trackingnet_sequence_curves(np.array([[0, 0, 0, 0], [0.4, 0.4, 0.4, 0.4], [5, 5, 5, 5]]), gt)
    b = m.trackingnet_sequence_curves(None, gt[:2])  # missing file: zeros, frame 0 := GT
    assert a["covered"].tolist() == [2, 4] and b["covered"].tolist() == [1, 2]
    assert m.trackingnet_summary([a, b])["coverage"] == pytest.approx(3 / 6 * 100)
    assert np.isnan(m.trackingnet_summary([{k: v for k, v in a.items() if k != "covered"}])["coverage"])


def test_lasot_matlab_absent_and_nonpositive_gt():
    gt = np.array([[10, 10, 20, 20], [10, 10, 20, 20], [0, 5, 20, 20], [10, 10, 20, 20]], dtype=float)
    pred = np.array([[0, 0, 1, 1], [10, 10, 20, 20], [30, 30, 0, 5], [10, 10, 20, 20]], dtype=float)
    c = m.lasot_matlab_sequence_curves(pred, gt, absent=np.array([0, 0, 0, 1]))
    # frames 0, 1 perfect; frame 2 GT x = 0 -> IoU -1 but centre error -1; frame 3 absent: removed, denominator 4
    np.testing.assert_allclose(c["success"], [0.5] * 20 + [0.0])
    s = m.pytracking_summary([c])
    assert s["auc"] == pytest.approx(10 / 21 * 100)
    assert s["precision"] == pytest.approx(75.0)


def test_trapezoid():
    assert m.trapezoid(np.array([0.0, 1.0, 1.0]), np.array([0.0, 0.5, 1.0])) == pytest.approx(0.75)
