"""Random image augmentation on ``(C, H, W)`` or ``(H, W)`` arrays (NumPy and ``scipy.ndimage``).

Each transform is applied with probability ``p`` and draws its magnitude at random, from
``generator`` if given, else from the default generator. Inside a ``DataLoader`` leave
``generator`` unset: the loader then seeds the draws of batch ``k`` from ``(epoch seed, k)``,
so augmentation is reproducible and the same with any number of workers. (A transform with
its own generator is copied into each worker process, so workers would repeat each other's
draws.) The dtype of the image is kept.

Apply augmentation before ``Standardize`` (``ColorJitter`` clips to the [0, 1] pixel range).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..backend import Generator, rng
from .transforms import Transform, _rewrap, _unwrap

__all__ = ["RandomTransform", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation",
           "RandomShift", "RandomTranslation", "RandomCrop", "ColorJitter"]


def _pair(value, name: str, where: str) -> tuple:
    if isinstance(value, numbers.Number):
        return value, value
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return tuple(value)
    raise ValueError(f"{where}: {name} must be a number or a pair, got {value!r}")


class RandomTransform(Transform):
    """Base class: with probability ``p`` call ``apply(image, random)``, else return the image.

    Args:
        p: probability of applying the transform to a sample.
        generator: the generator to draw from (see the module docstring).

    Example:
        >>> import numpy as np
        >>> class Negate(RandomTransform):
        ...     def apply(self, image, random):
        ...         return -image
        >>> Negate(p=1.0)(np.ones((2, 2))).tolist()
        [[-1.0, -1.0], [-1.0, -1.0]]
    """

    def __init__(self, p: float = 1.0, generator: Generator | None = None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must lie in [0, 1], got {p}")
        self.p = p
        self.generator = generator

    def __call__(self, x):
        name = type(self).__name__
        image, was_tensor = _unwrap(x, name)
        if image.ndim not in (2, 3):
            raise ValueError(f"{name}: expected an image of shape (C, H, W) or (H, W), got "
                             f"shape {image.shape} (dtype {image.dtype}); apply augmentation "
                             f"per sample")
        random = rng(self.generator)
        if random.random() >= self.p:
            return x
        return _rewrap(self.apply(image, random), was_tensor)

    def apply(self, image: np.ndarray, random: np.random.Generator) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement apply")

    def extra_repr(self) -> str:
        return f"p={self.p}"


class RandomHorizontalFlip(RandomTransform):
    """Mirror left-right with probability ``p`` (default 0.5).

    Example:
        >>> import numpy as np
        >>> RandomHorizontalFlip(p=1.0)(np.array([[1, 2, 3]])).tolist()
        [[3, 2, 1]]
    """

    def __init__(self, p: float = 0.5, generator: Generator | None = None):
        super().__init__(p, generator)

    def apply(self, image, random):
        return image[..., ::-1]


class RandomVerticalFlip(RandomTransform):
    """Mirror top-bottom with probability ``p`` (default 0.5).

    Example:
        >>> import numpy as np
        >>> RandomVerticalFlip(p=1.0)(np.array([[1], [2]])).tolist()
        [[2], [1]]
    """

    def __init__(self, p: float = 0.5, generator: Generator | None = None):
        super().__init__(p, generator)

    def apply(self, image, random):
        return image[..., ::-1, :]


class RandomRotation(RandomTransform):
    """Rotate by an angle drawn uniformly from ``degrees`` (positive: counter-clockwise).

    Args:
        degrees: ``d`` for ``[-d, d]``, or a ``(min, max)`` pair, in degrees.
        p: probability of rotating.
        fill: value of the pixels rotated in from outside the image.
        order: spline order of the interpolation (1: bilinear; torchvision's default is
            nearest, ``order=0``).

    Example:
        >>> import numpy as np
        >>> image = np.zeros((1, 3, 3), np.float32); image[0, 1, 2] = 1  # right of centre
        >>> np.argwhere(RandomRotation((90, 90))(image)[0] > 0.5).tolist()  # now above it
        [[0, 1]]
    """

    def __init__(self, degrees, p: float = 1.0, fill: float = 0.0, order: int = 1,
                 generator: Generator | None = None):
        super().__init__(p, generator)
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ValueError(f"RandomRotation: degrees must be non-negative, got {degrees}")
            degrees = (-degrees, degrees)
        self.degrees = tuple(float(d) for d in _pair(degrees, "degrees", "RandomRotation"))
        self.fill, self.order = fill, order

    def apply(self, image, random):
        from scipy import ndimage
        angle = random.uniform(*self.degrees)
        # With row 0 at the top (as images are shown), ndimage turns a positive angle
        # counter-clockwise, as torchvision does; the same rotation for every channel.
        return ndimage.rotate(image, angle, axes=(-1, -2), reshape=False, order=self.order,
                              mode="constant", cval=self.fill)

    def extra_repr(self) -> str:
        return f"degrees={self.degrees}, p={self.p}"


def _shift(image: np.ndarray, dy: int, dx: int, fill) -> np.ndarray:
    """``image`` moved down by ``dy`` and right by ``dx`` whole pixels, ``fill`` coming in."""
    height, width = image.shape[-2:]
    out = np.full_like(image, fill)
    if abs(dy) >= height or abs(dx) >= width:
        return out
    out[..., max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
        image[..., max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return out


class RandomShift(RandomTransform):
    """Shift by whole pixels drawn uniformly from ``[-max_shift, max_shift]``.

    Args:
        max_shift: the largest shift in pixels, or a ``(horizontal, vertical)`` pair.
        p: probability of shifting.
        fill: value of the pixels shifted in.

    Example:
        >>> import numpy as np
        >>> out = RandomShift(1, generator=__import__("locograd").Generator(3))(np.eye(3))
        >>> out.shape, float(out.sum()) <= 3
        ((3, 3), True)
    """

    def __init__(self, max_shift, p: float = 1.0, fill: float = 0.0,
                 generator: Generator | None = None):
        super().__init__(p, generator)
        self.max_shift = _pair(max_shift, "max_shift", type(self).__name__)
        self.fill = fill

    def _limits(self, height: int, width: int) -> tuple:
        return int(self.max_shift[1]), int(self.max_shift[0])

    def apply(self, image, random):
        max_dy, max_dx = self._limits(*image.shape[-2:])
        dy = int(random.integers(-max_dy, max_dy + 1))
        dx = int(random.integers(-max_dx, max_dx + 1))
        return _shift(image, dy, dx, self.fill)

    def extra_repr(self) -> str:
        return f"max_shift={self.max_shift}, p={self.p}"


class RandomTranslation(RandomShift):
    """Shift by up to a fraction of the image size (torchvision's ``RandomAffine(translate=)``).

    Args:
        translate: ``(a, b)``: horizontal shifts up to ``a * width`` and vertical up to
            ``b * height`` pixels (rounded to whole pixels).

    Example:
        >>> import numpy as np
        >>> RandomTranslation((0.0, 0.0))(np.eye(2)).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """

    def __init__(self, translate, p: float = 1.0, fill: float = 0.0,
                 generator: Generator | None = None):
        super().__init__(translate, p, fill, generator)
        if not all(0.0 <= t <= 1.0 for t in self.max_shift):
            raise ValueError(f"RandomTranslation: translate fractions must lie in [0, 1], got "
                             f"{translate}")

    def _limits(self, height: int, width: int) -> tuple:
        return round(self.max_shift[1] * height), round(self.max_shift[0] * width)


class RandomCrop(RandomTransform):
    """Pad, then cut out a ``size`` window at a random place (torchvision's ``RandomCrop``).

    Args:
        size: ``(height, width)`` of the output, or one number for a square.
        padding: pixels added on each side first: ``n``, ``(left/right, top/bottom)`` or
            ``(left, top, right, bottom)``.
        pad_if_needed: pad images smaller than ``size`` instead of raising.
        fill: padding value for ``padding_mode='constant'``.
        padding_mode: ``'constant'``, ``'edge'``, ``'reflect'`` or ``'symmetric'``.
        p: probability of a random window; otherwise the centre window is taken (so the output
            size is always ``size``).

    Example:
        >>> import numpy as np
        >>> RandomCrop(28, padding=4)(np.zeros((1, 28, 28), np.float32)).shape
        (1, 28, 28)
    """

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill: float = 0.0,
                 padding_mode: str = "constant", p: float = 1.0,
                 generator: Generator | None = None):
        super().__init__(1.0, generator)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomCrop: p must lie in [0, 1], got {p}")
        self.crop_p = p
        self.size = tuple(int(s) for s in _pair(size, "size", "RandomCrop"))
        if padding is None:
            padding = 0
        if isinstance(padding, numbers.Number):
            padding = (padding,) * 4
        elif len(padding) == 2:
            padding = (padding[0], padding[1], padding[0], padding[1])
        if len(padding) != 4 or any(int(v) != v or v < 0 for v in padding):
            raise ValueError(f"RandomCrop: padding must be non-negative whole pixels: n, "
                             f"(left/right, top/bottom) or (left, top, right, bottom); got "
                             f"{padding!r}")
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"RandomCrop: unknown padding_mode {padding_mode!r}")
        self.padding = tuple(int(v) for v in padding)
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode

    def apply(self, image, random):
        left, top, right, bottom = self.padding
        height, width = image.shape[-2:]
        out_h, out_w = self.size
        if self.pad_if_needed:
            extra_h = max(0, out_h - (height + top + bottom))
            extra_w = max(0, out_w - (width + left + right))
            top, bottom = top + extra_h, bottom + extra_h
            left, right = left + extra_w, right + extra_w
        if left or top or right or bottom:
            widths = [(0, 0)] * (image.ndim - 2) + [(top, bottom), (left, right)]
            extra = {"constant_values": self.fill} if self.padding_mode == "constant" else {}
            image = np.pad(image, widths, mode=self.padding_mode, **extra)
        height, width = image.shape[-2:]
        if height < out_h or width < out_w:
            raise ValueError(f"RandomCrop: the crop size {self.size} is larger than the padded "
                             f"image ({height}, {width}); use pad_if_needed=True")
        if random.random() < self.crop_p:
            row = int(random.integers(0, height - out_h + 1))
            col = int(random.integers(0, width - out_w + 1))
        else:
            row, col = (height - out_h) // 2, (width - out_w) // 2
        return image[..., row:row + out_h, col:col + out_w]

    def extra_repr(self) -> str:
        return f"size={self.size}, padding={self.padding}, p={self.crop_p}"


_GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601-2 luma, as in PIL and torchvision


def _grayscale(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3 and image.shape[0] == 3:
        r, g, b = image
        return (_GRAY_WEIGHTS[0] * r + _GRAY_WEIGHTS[1] * g + _GRAY_WEIGHTS[2] * b)[None]
    return image


class ColorJitter(RandomTransform):
    """Random brightness, contrast and saturation, in a random order (torchvision's rules).

    Each of ``brightness``, ``contrast``, ``saturation`` is ``v`` for a factor drawn from
    ``[max(0, 1 - v), 1 + v]`` or a ``(min, max)`` pair; 0 leaves it out. Brightness scales
    the image, contrast blends it with its mean gray level, saturation with its grayscale
    version (3-channel images only; a no-op for gray images, as in torchvision). Results are
    clipped to ``clip`` (the [0, 1] pixel range; ``None`` to skip). Float images only. (Hue is
    not provided.)

    Example:
        >>> import numpy as np
        >>> out = ColorJitter(brightness=(2.0, 2.0))(np.full((3, 2, 2), 0.25, np.float32))
        >>> float(out.max()), out.dtype
        (0.5, dtype('float32'))
    """

    def __init__(self, brightness=0.0, contrast=0.0, saturation=0.0, p: float = 1.0,
                 clip=(0.0, 1.0), generator: Generator | None = None):
        super().__init__(p, generator)
        self.brightness = self._range(brightness, "brightness")
        self.contrast = self._range(contrast, "contrast")
        self.saturation = self._range(saturation, "saturation")
        self.clip = clip

    @staticmethod
    def _range(value, name: str):
        if isinstance(value, numbers.Number):
            if value < 0:
                raise ValueError(f"ColorJitter: {name} must be non-negative, got {value}")
            value = (max(0.0, 1.0 - value), 1.0 + value)
        low, high = (float(v) for v in _pair(value, name, "ColorJitter"))
        if not 0.0 <= low <= high:
            raise ValueError(f"ColorJitter: {name} range must satisfy 0 <= min <= max, got "
                             f"{value}")
        return None if low == high == 1.0 else (low, high)

    def apply(self, image, random):
        if image.dtype.kind != "f":
            raise TypeError(f"ColorJitter: expected a float image in [0, 1], got dtype "
                            f"{image.dtype}; convert it first (e.g. ToTensor)")
        adjustments = [(self.brightness, self._brightness), (self.contrast, self._contrast),
                       (self.saturation, self._saturation)]
        for i in random.permutation(len(adjustments)).tolist():
            factor_range, adjust = adjustments[i]
            if factor_range is not None:
                # Python floats keep a float32 image float32 (a NumPy float64 would not).
                image = adjust(image, float(random.uniform(*factor_range)))
                if self.clip is not None:
                    image = np.clip(image, self.clip[0], self.clip[1])
        return image

    @staticmethod
    def _brightness(image, factor):
        return image * factor

    @staticmethod
    def _contrast(image, factor):
        return image * factor + float(_grayscale(image).mean()) * (1.0 - factor)

    @staticmethod
    def _saturation(image, factor):
        if image.ndim != 3 or image.shape[0] != 3:
            return image
        return image * factor + _grayscale(image) * (1.0 - factor)

    def extra_repr(self) -> str:
        return (f"brightness={self.brightness}, contrast={self.contrast}, "
                f"saturation={self.saturation}, p={self.p}")
