"""Image augmentation: exact geometry, probabilities, magnitudes, dtypes and seeding."""
import numpy as np
import pytest

import locograd as lg
from locograd import data
from locograd.data.augment import _shift


def _pattern(channels=2, size=5):
    return np.arange(channels * size * size, dtype=np.float32).reshape(channels, size, size)


def test_flips():
    image = _pattern()
    assert np.array_equal(data.RandomHorizontalFlip(p=1.0)(image), image[:, :, ::-1])
    assert np.array_equal(data.RandomVerticalFlip(p=1.0)(image), image[:, ::-1, :])
    assert data.RandomHorizontalFlip(p=0.0)(image) is image
    flipped = [not np.array_equal(data.RandomHorizontalFlip(generator=g)(image), image)
               for g in [lg.Generator(0)] for _ in range(2000)]
    assert 0.45 < np.mean(flipped) < 0.55


def test_rotation_geometry():
    image = _pattern(size=5)
    quarter = data.RandomRotation((90, 90), order=0)(image)
    np.testing.assert_array_equal(quarter, np.rot90(image, 1, axes=(1, 2)))  # counter-clockwise
    clockwise = data.RandomRotation((-90, -90), order=0)(image[0])
    np.testing.assert_array_equal(clockwise, np.rot90(image[0], -1))
    small = data.RandomRotation(10, generator=lg.Generator(0))(np.ones((1, 9, 9), np.float32))
    assert small.dtype == np.float32 and small.shape == (1, 9, 9)
    assert small[0, 4, 4] == pytest.approx(1.0) and small.min() >= 0.0
    with pytest.raises(ValueError, match="non-negative"):
        data.RandomRotation(-5)


def test_rotation_angles_stay_in_range():
    image = np.zeros((21, 21), np.float64)
    image[10, 20] = 1.0  # a point on the right edge, 10 pixels from the centre
    rotation = data.RandomRotation((0, 30), order=1, generator=lg.Generator(1))
    for _ in range(50):
        out = rotation(image)
        row, col = np.unravel_index(np.argmax(out), out.shape)
        angle = np.degrees(np.arctan2(10 - row, col - 10))
        assert -3 <= angle <= 33


def test_shift_exact_and_range():
    image = _pattern(channels=1, size=4)
    moved = _shift(image, 1, -2, fill=-1.0)
    expected = np.full_like(image, -1.0)
    expected[:, 1:, :2] = image[:, :3, 2:]
    np.testing.assert_array_equal(moved, expected)
    assert np.all(_shift(image, 4, 0, 0.0) == 0)
    shifts = set()
    shifter = data.RandomShift((2, 1), generator=lg.Generator(0))
    one = np.zeros((7, 7), np.float32)
    one[3, 3] = 1
    for _ in range(400):
        row, col = np.argwhere(shifter(one))[0]
        shifts.add((int(row) - 3, int(col) - 3))
    assert shifts == {(dy, dx) for dy in (-1, 0, 1) for dx in (-2, -1, 0, 1, 2)}


def test_translation_fraction():
    translator = data.RandomTranslation((0.25, 0.0), generator=lg.Generator(0))
    one = np.zeros((8, 8), np.float32)
    one[4, 4] = 1
    columns = {int(np.argwhere(translator(one))[0][1]) - 4 for _ in range(300)}
    rows = {int(np.argwhere(translator(one))[0][0]) - 4 for _ in range(50)}
    assert columns == {-2, -1, 0, 1, 2} and rows == {0}
    with pytest.raises(ValueError, match="fractions"):
        data.RandomTranslation((1.5, 0.0))


def test_random_crop():
    image = _pattern(channels=1, size=6)
    crop = data.RandomCrop(6, padding=2, generator=lg.Generator(0))
    padded = np.pad(image, ((0, 0), (2, 2), (2, 2)))
    offsets = set()
    for _ in range(300):
        out = crop(image)
        assert out.shape == (1, 6, 6)
        matches = [(r, c) for r in range(5) for c in range(5)
                   if np.array_equal(padded[:, r:r + 6, c:c + 6], out)]
        assert matches
        offsets.update(matches)
    assert len(offsets) == 25
    assert np.array_equal(data.RandomCrop(6, padding=2, p=0.0)(image), image)  # centre window
    assert data.RandomCrop((3, 4))(image).shape == (1, 3, 4)
    reflected = data.RandomCrop(8, padding=1, padding_mode="reflect", p=0.0)(image)
    np.testing.assert_array_equal(reflected, np.pad(image, ((0, 0), (1, 1), (1, 1)), "reflect"))
    assert data.RandomCrop(9, pad_if_needed=True)(image).shape == (1, 9, 9)
    with pytest.raises(ValueError, match=r"crop size \(9, 9\) is larger"):
        data.RandomCrop(9)(image)
    with pytest.raises(ValueError, match="padding_mode"):
        data.RandomCrop(3, padding_mode="wrap")


def test_color_jitter():
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0.2, 0.6, (3, 4, 4)).astype(np.float32)
    bright = data.ColorJitter(brightness=(1.5, 1.5))(rgb)
    np.testing.assert_allclose(bright, rgb * 1.5, rtol=1e-6)
    assert bright.dtype == np.float32
    flat = data.ColorJitter(contrast=(0.0, 0.0))(rgb)
    gray_mean = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]).mean()
    np.testing.assert_allclose(flat, gray_mean, rtol=1e-5)
    gray = data.ColorJitter(saturation=(0.0, 0.0))(rgb)
    np.testing.assert_allclose(gray[0], gray[1], rtol=1e-6)
    np.testing.assert_allclose(gray[0], 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2],
                               rtol=1e-5)
    single = rgb[:1]
    np.testing.assert_array_equal(data.ColorJitter(saturation=(0.0, 0.0))(single), single)
    clipped = data.ColorJitter(brightness=(3.0, 3.0))(rgb)
    assert clipped.max() == 1.0
    jitter = data.ColorJitter(0.4, 0.4, 0.4, generator=lg.Generator(0))
    outs = [jitter(rgb) for _ in range(5)]
    assert all(o.dtype == np.float32 and 0 <= o.min() and o.max() <= 1 for o in outs)
    assert not np.array_equal(outs[0], outs[1])
    with pytest.raises(TypeError, match="float image"):
        data.ColorJitter(brightness=0.5)(np.zeros((3, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="non-negative"):
        data.ColorJitter(brightness=-1)


def test_reproducible_from_generator_and_manual_seed():
    image = np.random.default_rng(0).uniform(size=(1, 12, 12)).astype(np.float32)
    pipeline = data.Compose([data.RandomRotation(20), data.RandomShift(2), data.RandomCrop(
        12, padding=1), data.RandomHorizontalFlip()])
    lg.manual_seed(0)
    a = [pipeline(image) for _ in range(5)]
    lg.manual_seed(0)
    b = [pipeline(image) for _ in range(5)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], a[1])
    seeded = data.RandomRotation(20, generator=lg.Generator(3))
    again = data.RandomRotation(20, generator=lg.Generator(3))
    assert np.array_equal(seeded(image), again(image))


def test_probability_and_input_checks():
    image = np.ones((1, 4, 4), np.float32)
    never = data.RandomRotation(45, p=0.0)
    assert never(image) is image
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\]"):
        data.RandomShift(1, p=1.5)
    with pytest.raises(ValueError, match=r"\(C, H, W\) or \(H, W\), got shape \(2, 1, 4, 4\)"):
        data.RandomHorizontalFlip(p=1.0)(np.ones((2, 1, 4, 4)))
    tensor = data.RandomHorizontalFlip(p=1.0)(lg.tensor(np.arange(3.0).reshape(1, 3)))
    assert isinstance(tensor, lg.Tensor) and tensor.tolist() == [[2.0, 1.0, 0.0]]
