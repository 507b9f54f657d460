"""The shared crop against hand-computed numbers (official rounding and padding)."""

import numpy as np
import pytest
import torch

from lib.utils.crop import CropError, crop_size, map_box, normalize_patch, sample_target


@pytest.fixture(autouse=True)
def _single_threaded_opencv():
    """Large resizes here would start OpenCV's thread pool in the test process, and a DataLoader worker
    forked from it later deadlocks in cv2.setNumThreads; one thread keeps the pool from starting."""
    import cv2

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    yield
    cv2.setNumThreads(threads)


def _ramp_image(h=80, w=100):
    rng = np.random.default_rng(0)
    return rng.integers(1, 256, size=(h, w, 3), dtype=np.uint8)  # no zeros, so padding is recognisable


def test_crop_size_uses_ceil():
    assert crop_size([0, 0, 10.1, 10.1], 2.0) == 21
    assert crop_size([0, 0, 30, 30], 2.0) == 60
    with pytest.raises(CropError):
        crop_size([0, 0, 0, 5], 2.0)


def test_left_padding_and_content_hand_checked():
    image = _ramp_image()
    # side 60, x1 = round(10 + 15 - 30) = -5, y1 = round(20 + 15 - 30) = 5; output 60 -> no resampling
    patch, factor, mask = sample_target(image, [10, 20, 30, 30], 2.0, 60)
    assert factor == 1.0 and patch.shape == (60, 60, 3) and mask.shape == (60, 60)
    assert (patch[:, :5] == 0).all() and mask[:, :5].all()
    np.testing.assert_array_equal(patch[:, 5:], image[5:65, 0:55])
    assert not mask[:, 5:].any()


def test_right_border_gets_the_official_extra_padding_column():
    image = _ramp_image()
    # side 40, x1 = 60, x2 = 100 = W -> x2_pad = 1: image column 99 is replaced by one zero column
    patch, _, mask = sample_target(image, [70, 30, 20, 20], 2.0, 40)
    np.testing.assert_array_equal(patch[:, :39], image[20:60, 60:99])
    assert (patch[:, 39] == 0).all() and mask[:, 39].all() and not mask[:, :39].any()
    # bottom: y1 = 40, y2 = 80 = H -> last row padded
    patch, _, mask = sample_target(image, [30, 50, 20, 20], 2.0, 40)
    np.testing.assert_array_equal(patch[:39], image[40:79, 20:60])
    assert (patch[39] == 0).all() and mask[39].all() and not mask[:39].any()


def test_corner_rounds_half_to_even():
    image = _ramp_image()
    # side 4; x1 = round(12.5 - 2) = round(10.5) = 10 (half-up would give 11); y1 = round(9.5) = 10
    patch, _, _ = sample_target(image, [11.5, 10.5, 2, 2], 2.0, 4)
    np.testing.assert_array_equal(patch, image[10:14, 10:14])
    patch, _, _ = sample_target(image, [12.5, 10, 2, 2], 2.0, 4)  # round(11.5) = 12
    np.testing.assert_array_equal(patch, image[9:13, 12:16])


def test_mask_marks_every_output_pixel_padding_bleeds_into():
    image = _ramp_image()
    # 5 padded columns of 60, downsampled by 2: output columns 0..2 sample source columns 0..5
    _, factor, mask = sample_target(image, [10, 20, 30, 30], 2.0, 30)
    assert factor == 0.5
    assert mask[:, :3].all() and not mask[:, 3:].any()


def test_crop_fully_outside_is_all_padding():
    image = _ramp_image()
    patch, _, mask = sample_target(image, [500, 500, 10, 10], 2.0, 16)
    assert (patch == 0).all() and mask.all()


def test_map_box_hand_checked():
    # same centre as the crop box: centre at (S - 1) / 2, size scaled by resize factor
    out = map_box([10, 20, 30, 40], [10, 20, 30, 40], 2.0, 128, normalize=False)
    np.testing.assert_allclose(out, [63.5 - 30, 63.5 - 40, 60, 80])
    # target shifted by (+5, -2) px -> centre shifts by (+10, -4) crop px; normalised by 128
    out = np.array(map_box([15, 18, 30, 40], [10, 20, 30, 40], 2.0, 128))
    np.testing.assert_allclose(out * 128, [73.5 - 30, 59.5 - 40, 60, 80])


def test_crop_content_matches_map_box_mapping():
    # a white square on black: its crop-box from map_box matches where it lands (up to the half pixel)
    image = np.zeros((200, 200, 3), dtype=np.uint8)
    image[80:120, 60:100] = 255
    target = [60, 80, 40, 40]
    patch, factor, _ = sample_target(image, target, 2.0, 80)
    ys, xs = np.nonzero(patch[..., 0] > 127)
    box = map_box(target, target, factor, 80, normalize=False)
    assert abs(xs.min() - box[0]) <= 1 and abs(xs.max() + 1 - (box[0] + box[2])) <= 1
    assert abs(ys.min() - box[1]) <= 1 and abs(ys.max() + 1 - (box[1] + box[3])) <= 1


def test_normalize_patch():
    patch = np.full((4, 4, 3), 255, dtype=np.uint8)
    patch[..., 1] = 0
    out = normalize_patch(patch, [0.5, 0.5, 0.5], [0.25, 0.5, 1.0])
    assert out.shape == (3, 4, 4) and out.dtype == torch.float32
    torch.testing.assert_close(out[:, 0, 0], torch.tensor([2.0, -1.0, 0.5]))


def test_mirrored_crop_equals_crop_of_flipped_image():
    import cv2

    image = _ramp_image()
    for box in ([10, 20, 30, 30], [70, 30, 20, 20], [-5, 60, 25, 15], [11.5, 10.5, 2, 2], [40, 10, 33, 27]):
        for factor, size in ((2.0, 40), (5.0, 64)):
            expected = sample_target(cv2.flip(image, 1), box, factor, size)
            actual = sample_target(image, box, factor, size, mirrored=True)
            np.testing.assert_array_equal(actual[0], expected[0])
            np.testing.assert_array_equal(actual[2], expected[2])
            assert actual[1] == expected[1]


def _reference_crop(image, box, factor, size):
    """The crop as first written: the whole zero-padded square built, resized, and a full-size mask resized."""
    import cv2

    x, y, w, h = (float(v) for v in box)
    side = crop_size(box, factor)
    x1, y1 = int(round(x + 0.5 * w - side * 0.5)), int(round(y + 0.5 * h - side * 0.5))
    im_h, im_w = image.shape[:2]
    x1_pad, y1_pad = max(0, -x1), max(0, -y1)
    x2_pad, y2_pad = max(x1 + side - im_w + 1, 0), max(y1 + side - im_h + 1, 0)
    canvas = np.zeros((side, side, 3), dtype=np.uint8)
    padding = np.ones((side, side), dtype=np.float32)
    top, bottom, left, right = y1 + y1_pad, y1 + side - y2_pad, x1 + x1_pad, x1 + side - x2_pad
    if bottom > top and right > left:
        inner = image[top:bottom, left:right]
        canvas[y1_pad : y1_pad + inner.shape[0], x1_pad : x1_pad + inner.shape[1]] = inner
        padding[y1_pad : y1_pad + inner.shape[0], x1_pad : x1_pad + inner.shape[1]] = 0
    patch = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_LINEAR)
    return patch, size / side, cv2.resize(padding, (size, size), interpolation=cv2.INTER_LINEAR) != 0


def test_crop_equals_the_full_canvas_reference_bit_for_bit():
    import cv2

    from lib.data.transforms import to_grayscale

    rng = np.random.default_rng(3)
    for case in range(400):
        height, width = int(rng.integers(8, 200)), int(rng.integers(8, 200))
        image = rng.integers(1, 256, size=(height, width, 3), dtype=np.uint8)
        w, h = rng.uniform(0.5, width), rng.uniform(0.5, height)
        box = [rng.uniform(-2 * w, width + w), rng.uniform(-2 * h, height + h), w, h]
        factor = float(rng.choice([2.0, 5.0, rng.uniform(0.3, 8.0)]))
        size = int(rng.choice([64, 128, 320, int(rng.integers(1, 150))]))
        if case % 5 == 0:
            size = max(1, crop_size(box, factor) // 2)  # exactly half: OpenCV's area shortcut
        mirrored, gray = bool(case % 2), case % 7 == 0
        source = cv2.flip(image, 1) if mirrored else image
        expected = _reference_crop(to_grayscale(source) if gray else source, box, factor, size)
        actual = sample_target(image, box, factor, size, mirrored=mirrored, pixel_map=to_grayscale if gray else None)
        np.testing.assert_array_equal(actual[0], expected[0], err_msg=f"case {case}")
        np.testing.assert_array_equal(actual[2], expected[2], err_msg=f"case {case}")
        assert actual[1] == expected[1]


def test_rows_outside_the_resize_taps_never_reach_the_output():
    import cv2

    from lib.utils.crop import _resize_taps

    for dst in (1, 3, 7, 64, 128, 320):
        for src in range(1, 700):
            probe = np.full((src, 2, 3), 255, dtype=np.uint8)
            probe[_resize_taps(src, dst)] = 0
            assert not cv2.resize(probe, (2, dst), interpolation=cv2.INTER_LINEAR).any(), (src, dst)


def test_resize_commutes_with_mirroring_at_the_sizes_that_rely_on_it():
    import cv2

    from lib.utils.crop import MIRROR_EXACT_MAX_SIDE, MIRROR_EXACT_SIZES

    rng = np.random.default_rng(0)
    for size in sorted(MIRROR_EXACT_SIZES):
        for side in range(1, MIRROR_EXACT_MAX_SIDE + 1):
            rows = rng.integers(0, 256, size=(6, side, 3), dtype=np.uint8)
            mirrored_first = cv2.resize(cv2.flip(rows, 1), (size, 6), interpolation=cv2.INTER_LINEAR)
            np.testing.assert_array_equal(
                mirrored_first,
                cv2.flip(cv2.resize(rows, (size, 6), interpolation=cv2.INTER_LINEAR), 1),
                err_msg=f"{size} {side}",
            )


def test_crop_pixels_and_mask_write_into_given_arrays_and_mirror_on_request():
    import cv2

    from lib.utils.crop import crop_mask, crop_pixels, plan_crop

    rng = np.random.default_rng(5)
    pixels = np.zeros((2, 64, 64, 3), dtype=np.uint8)
    masks = np.zeros((2, 64, 64), dtype=bool)
    for case in range(120):
        image = rng.integers(1, 256, size=(int(rng.integers(20, 120)), int(rng.integers(20, 120)), 3), dtype=np.uint8)
        w, h = rng.uniform(2, 60), rng.uniform(2, 60)
        box = [rng.uniform(-w, image.shape[1]), rng.uniform(-h, image.shape[0]), w, h]
        mirrored, flip = bool(case % 2), bool(case % 3)
        patch, _, mask = sample_target(image, box, 4.0, 64, mirrored=mirrored)
        plan = plan_crop(image.shape, box, 4.0, 64, mirrored)
        written = crop_pixels(image, plan, out=pixels[case % 2], flip=flip)
        crop_mask(plan, flip, out=masks[case % 2])
        assert np.shares_memory(written, pixels)
        np.testing.assert_array_equal(pixels[case % 2], cv2.flip(patch, 1) if flip else patch, err_msg=str(case))
        np.testing.assert_array_equal(masks[case % 2], mask[:, ::-1] if flip else mask, err_msg=str(case))


def _fed_by_padding(src, dst, spans):
    """Per span ``(lo, hi)``: the outputs a linear resize of its padding (ones outside ``[lo, hi)``) makes nonzero."""
    import cv2

    padding = np.ones((max(len(spans), 2), src), dtype=np.float32)  # two rows at least: one row resizes apart
    for row, (lo, hi) in enumerate(spans):
        padding[row, max(lo, 0) : max(hi, lo, 0)] = 0.0
    return cv2.resize(padding, (dst, len(padding)), interpolation=cv2.INTER_LINEAR)[: len(spans)] != 0


@pytest.mark.parametrize("dst", [1, 7, 64, 128, 250, 320])
def test_unfed_run_is_exactly_what_resizing_the_padding_leaves_zero(dst):
    """Every prefix and suffix of padding (so every span: an output is fed by a span's padding when it is
    fed by its left or its right part) for every side up to 700 and sides up to 9000 drawn at random."""
    from lib.utils.crop import _unfed_run

    rng = np.random.default_rng(dst)
    for src in list(range(1, 301)) + rng.integers(301, 9000, size=10).tolist():
        spans = [(lo, src) for lo in range(src + 1)] + [(0, hi) for hi in range(src + 1)]
        spans += [(int(lo), int(lo + rng.integers(-3, src))) for lo in rng.integers(-3, src + 3, size=20)]
        spans = spans[:: max(1, len(spans) // 600)]
        for fed, (lo, hi) in zip(_fed_by_padding(src, dst, spans), spans):
            start, stop = _unfed_run(src, dst, lo, hi)
            expected = np.flatnonzero(~fed)
            assert stop - start == len(expected) and (len(expected) == 0 or expected[0] == start), (src, dst, lo, hi)


def test_resize_taps_below_four_to_one_are_the_span_of_the_indices_read():
    from lib.utils.crop import _resize_taps

    for dst in (1, 7, 64, 128, 320):
        for src in range(1, 4 * dst):
            taps = _resize_taps(src, dst)
            assert isinstance(taps, slice)
            x = (np.arange(dst) + 0.5) * (src / dst) - 0.5
            read = np.clip(np.concatenate([np.floor(x), np.floor(x) + 1]), 0, src - 1)
            assert taps.start <= read.min() and read.max() < taps.stop <= src, (src, dst)
    assert not isinstance(_resize_taps(4000, 64), slice)  # 62:1: only the rows read, sparse
