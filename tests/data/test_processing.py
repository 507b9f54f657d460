"""Processing: boxes stay on the target through joint and per-crop flips; masks mark padding."""

import numpy as np
import pytest
import torch

from lib.data.processing import CropSpec, StarkProcessing, normalize_images
from lib.data.transforms import flip_x, jitter_xywh

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def _scene(box, size=(120, 160)):
    image = np.full(size + (3,), 30, dtype=np.uint8)
    x, y, w, h = box
    image[y : y + h, x : x + w] = (230, 200, 60)
    image[y : y + h // 3, x : x + w] = (60, 220, 230)  # a top band, so a vertical flip would be visible too
    return image


def _bright_box(image_chw):
    """Normalised (x, y, w, h) of the bright pixels in a de-normalised crop."""
    image = image_chw * torch.tensor(STD).view(3, 1, 1) + torch.tensor(MEAN).view(3, 1, 1)
    gray = image.mean(0).numpy()
    ys, xs = np.nonzero(gray > (gray.min() + gray.max()) / 2)
    size = gray.shape[0]
    return np.array([xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()]) / size


@pytest.mark.parametrize("training", [True, False])
def test_boxes_follow_the_target_through_flips(training):
    processing = StarkProcessing(
        CropSpec(64, 2.0, 0, 0), CropSpec(128, 4.0, 1.0, 0.2), MEAN, STD, grayscale_prob=0.0, training=training
    )
    box = (60, 40, 30, 24)
    frame = _scene(box)
    bands_left = 0
    for seed in range(24):
        out = normalize_images(
            processing([frame], [np.array(box, float)], [frame], [np.array(box, float)], np.random.default_rng(seed))
        )
        assert out is not None
        for image, crop_box in [
            (out["template_images"][0], out["template_boxes"][0]),
            (out["search_images"], out["search_boxes"]),
        ]:
            found = _bright_box(image)
            np.testing.assert_allclose(found, crop_box.numpy(), atol=2.5 / image.shape[-1])
        assert out["search_masks"].dtype == torch.bool and out["template_masks"].shape == (1, 64, 64)
        # the cyan band stays at the top of the target: flips are horizontal only
        sx, sy, sw, sh = (out["search_boxes"].numpy() * 128).astype(int)
        top = out["search_images"][:, sy + 3, sx + sw // 2]
        bottom = out["search_images"][:, sy + sh - 3, sx + sw // 2]
        bands_left += int(top[2] > bottom[2])
    assert bands_left == 24


def test_masks_are_true_exactly_where_the_crop_leaves_the_image():
    processing = StarkProcessing(
        CropSpec(64, 2.0, 0, 0), CropSpec(128, 5.0, 0, 0), MEAN, STD, training=False, grayscale_prob=0
    )
    box = (2, 50, 20, 20)  # near the left border: the search crop (100 px) extends 40 px past it
    frame = _scene(box)
    flips = set()
    for seed in range(8):
        out = normalize_images(
            processing([frame], [np.array(box, float)], [frame], [np.array(box, float)], np.random.default_rng(seed))
        )
        mask = out["search_masks"].numpy()
        padded_cols = mask.all(axis=0)
        raw = (out["search_images"] * torch.tensor(STD).view(3, 1, 1) + torch.tensor(MEAN).view(3, 1, 1)) * 255
        # under the mask: zero padding, or padding blended with the background (30) at the border
        assert (raw[:, :, padded_cols] < 30.5).all() and (raw[:, :, padded_cols].abs() < 1).float().mean() > 0.9
        assert (raw[:, :, ~mask.any(axis=0)] > 20).all()  # image content where the mask is False
        flips.add(bool(padded_cols[0]))  # padding on the left, or on the right after the joint flip
    assert flips == {True, False}


def test_invalid_when_crop_is_all_padding():
    processing = StarkProcessing(CropSpec(64, 2.0, 0, 0), CropSpec(128, 5.0, 0, 0), MEAN, STD)
    frame = _scene((10, 10, 20, 20))
    far = np.array([1000.0, 1000.0, 10.0, 10.0])
    assert processing([frame], [np.array([10.0, 10, 20, 20])], [frame], [far], np.random.default_rng(0)) is None
    assert processing([frame], [np.array([10.0, 10, 0, 20])], [frame], [far], np.random.default_rng(0)) is None


def test_flip_helpers():
    assert flip_x(1.0, 2.0, 5) == 2.0  # columns 1-2 -> 2-3 of 5
    np.testing.assert_allclose(flip_x(np.array([0.1, 0.5]), np.array([0.3, 0.5]), 1.0), [0.6, 0.0])  # normalised


def test_jitter_statistics():
    rng = np.random.default_rng(0)
    box = np.array([100.0, 100.0, 40.0, 10.0])
    np.testing.assert_allclose(jitter_xywh(*box.tolist(), 0.0, 0.0, rng), box)
    samples = np.array([jitter_xywh(*box.tolist(), 0.5, 4.5, rng) for _ in range(2000)])
    centres = samples[:, :2] + samples[:, 2:] / 2
    # centre offset bounded by sqrt(w' h') * 4.5 / 2 per axis
    bound = np.sqrt(samples[:, 2] * samples[:, 3]) * 4.5 / 2
    assert (np.abs(centres[:, 0] - 120) <= bound + 1e-9).all()
    assert abs(np.log(samples[:, 2] / 40).std() - 0.5) < 0.05


def test_normalize_images_looks_up_each_pixel_in_its_crops_table():
    rng = np.random.default_rng(0)
    pixels = torch.from_numpy(rng.integers(0, 256, size=(2, 3, 5, 4, 3), dtype=np.uint8))  # (B, T, H, W, 3)
    lut = torch.from_numpy(rng.standard_normal((2, 3, 3, 256)).astype(np.float32))
    batch = {"template_pixels": pixels, "template_lut": lut, "search_pixels": pixels[:, 0], "search_lut": lut[:, 0]}
    batch["search_boxes"] = torch.zeros(2, 4)
    out = normalize_images(batch)
    assert set(out) == {"template_images", "search_images", "search_boxes"}
    assert out["template_images"].shape == (2, 3, 3, 5, 4) and out["template_images"].dtype == torch.float32
    b, t, c, y, x = 1, 2, 1, 3, 2
    assert out["template_images"][b, t, c, y, x] == lut[b, t, c, int(pixels[b, t, y, x, c])]
    assert out["search_images"][0, 2, 4, 3] == lut[0, 0, 2, int(pixels[0, 0, 4, 3, 2])]
    floats = {"search_images": torch.zeros(3, 8, 8)}
    assert normalize_images(floats) is floats  # synthetic batches with float images pass unchanged


def test_crops_normalise_to_the_per_pixel_arithmetic():
    processing = StarkProcessing(CropSpec(64, 2.0, 0, 0), CropSpec(128, 4.0, 1.0, 0.2), MEAN, STD, brightness_jitter=0.3)
    box = np.array([60.0, 40, 30, 24])
    frame = np.random.default_rng(1).integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    raw = processing([frame], [box], [frame], [box], np.random.default_rng(4))
    out = normalize_images(raw)
    # the table of a crop is (clip(v / 255 * factor, 0, 1) - mean) / std per channel, for one factor per crop
    levels = np.arange(256) / 255.0
    for pixels, lut, image in [(raw["search_pixels"], raw["search_lut"], out["search_images"])]:
        factor = (lut[0, 100].item() * STD[0] + MEAN[0]) / levels[100]  # level 100 stays below the clamp
        expected = ((np.clip(levels[:, None] * factor, 0, 1) - MEAN) / STD).astype(np.float32).T
        np.testing.assert_allclose(lut.numpy(), expected, atol=2e-6)
        np.testing.assert_array_equal(image.numpy(), lut.numpy()[np.arange(3)[:, None, None], pixels.permute(2, 0, 1).long()])


def _reference_processing(processing, frames, boxes, n_templates, rng):
    """The processing written crop by crop from the public pieces, in the draw order the docstring gives:
    sample_target, full-size masks, the crop flip on the finished patch, one table per crop."""
    import cv2

    from lib.data.transforms import to_grayscale
    from lib.utils.crop import map_box, sample_target

    pixel_map = to_grayscale if rng.random() < processing.grayscale_prob else None
    mirrored = rng.random() < 0.5
    if mirrored:
        boxes = [np.asarray(box, dtype=np.float64) for box in boxes]
        boxes = [[flip_x(b[0], b[2], f.shape[1], processing.official_flip), *b[1:4]] for f, b in zip(frames, boxes)]
    crops = []
    for i, (frame, box) in enumerate(zip(frames, boxes)):
        spec = processing.template if i < n_templates else processing.search
        jittered = jitter_xywh(*np.asarray(box, dtype=np.float64)[:4].tolist(), spec.scale_jitter, spec.center_jitter, rng)
        patch, factor, mask = sample_target(frame, jittered, spec.factor, spec.size, mirrored, pixel_map)
        grid = spec.size // processing.feature_stride
        index = np.floor(np.arange(grid) * (spec.size / grid)).astype(int)
        if mask.all() or mask[index[:, None], index[None, :]].all():
            return None
        crop_box = np.array(map_box(np.asarray(box, dtype=np.float64)[:4].tolist(), jittered, factor, spec.size))
        brightness, flip = 1.0, False
        if processing.training:
            brightness = rng.uniform(1.0 - processing.brightness_jitter, 1.0 + processing.brightness_jitter)
            flip = rng.random() < 0.5
        levels = np.clip(np.arange(256)[:, None] / 255.0 * brightness, 0.0, 1.0) if processing.training else None
        levels = np.arange(256)[:, None] / 255.0 if levels is None else levels
        table = ((levels - processing.mean) / processing.std).T.astype(np.float32)
        if flip:
            patch, mask = cv2.flip(patch, 1), mask[:, ::-1]
            crop_box[0] = flip_x(crop_box[0], crop_box[2], 1.0)
        crops.append((patch, table, mask, crop_box.astype(np.float32)))
    return crops


@pytest.mark.parametrize("training, official", [(True, False), (True, True), (False, False)])
def test_processing_equals_the_crop_by_crop_composition_bit_for_bit(training, official):
    """The fast path (geometry and mask first, pixels resized into the sample, flips folded, tables computed
    together) gives exactly the crops, masks, tables and boxes of the straightforward composition."""
    processing = StarkProcessing(
        CropSpec(64, 2.0, 0, 0), CropSpec(128, 5.0, 4.5, 0.5), MEAN, STD, grayscale_prob=0.3, training=training,
        official_flip=official,
    )  # fmt: skip
    data = np.random.default_rng(7)
    compared = 0
    for seed in range(60):
        height, width = int(data.integers(40, 200)), int(data.integers(40, 260))
        frames = [data.integers(0, 256, size=(height, width, 3), dtype=np.uint8) for _ in range(3)]
        boxes = []
        for _ in range(3):
            w, h = data.uniform(2, width * 0.6), data.uniform(2, height * 0.6)
            boxes.append(np.array([data.uniform(-w / 2, width - w / 2), data.uniform(-h / 2, height - h / 2), w, h]))
        n_t = 1 + seed % 2
        got = processing(frames[:n_t], boxes[:n_t], frames[n_t:], boxes[n_t:], np.random.default_rng(seed))
        want = _reference_processing(processing, frames, boxes, n_t, np.random.default_rng(seed))
        assert (got is None) == (want is None), seed
        if got is None:
            continue
        compared += 1
        for prefix, crops in (("template", want[:n_t]), ("search", want[n_t:])):
            for j, key in enumerate(("pixels", "lut", "masks", "boxes")):
                expected = np.stack([crop[j] for crop in crops])
                actual = got[f"{prefix}_{key}"].numpy()
                np.testing.assert_array_equal(
                    actual, expected if prefix == "template" else expected[0], err_msg=f"{seed} {key}"
                )
    assert compared > 40
