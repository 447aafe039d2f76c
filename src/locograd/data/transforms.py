"""Preprocessing fitted on training data: ``Standardize``, ``Center``, ``Whiten``; and the
plumbing every transform shares: ``Transform``, ``Compose``, ``Lambda``, ``ToTensor``.

A transform is called on one sample (``transform(x)``); ``apply_batch(batch)`` applies it to a
stack of samples ``(N, *sample_shape)`` with the same result as one sample at a time. The
fitted transforms do that in one vectorised step, which is what ``MNIST``/``Digits`` use in the
``DataLoader``'s batched fast path.

Fitted statistics are kept in float64 and cast once per input dtype, so that float32 data
stays float32 (integer data becomes the default float dtype). ``state_dict()`` returns plain
NumPy arrays only (no pickle), ready for a checkpoint next to the model's state;
``load_state_dict`` restores them into a transform built with the same arguments.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import get_default_dtype
from .collate import default_collate

__all__ = ["Transform", "Compose", "Lambda", "ToTensor", "Center", "Standardize", "Whiten",
           "apply_to_batch"]

_FIT_CHUNK = 4096  # samples per step while fitting: bounded float64 temporaries


def _unwrap(x, where: str):
    """``(ndarray, was_tensor)`` for a tensor, an array or a (nested) list of numbers."""
    if isinstance(x, TensorBase):
        return x.data, True
    if isinstance(x, np.ndarray):
        return x, False
    from ..factory import as_tensor  # lists follow lg.tensor's dtype rules
    return as_tensor(x).data, False


def _rewrap(array: np.ndarray, was_tensor: bool):
    return new_tensor(array) if was_tensor else array


def _work_dtype(array: np.ndarray) -> np.dtype:
    return array.dtype if array.dtype.kind == "f" else get_default_dtype()


def _chunks(data, where: str):
    """The fitting data as ndarrays of at most ``_FIT_CHUNK`` samples.

    ``data`` is an array or tensor ``(N, ...)`` or a map-style dataset whose samples are inputs
    or ``(input, target, ...)`` tuples (its batched fast path is used when it has one).
    """
    if isinstance(data, (TensorBase, np.ndarray, list)):
        array, _ = _unwrap(data, where)
        if array.ndim == 0 or array.shape[0] == 0:
            raise ValueError(f"{where}.fit: expected data of shape (N, ...) with N >= 1, got "
                             f"shape {array.shape}")
        for start in range(0, array.shape[0], _FIT_CHUNK):
            yield array[start:start + _FIT_CHUNK]
        return
    if not (hasattr(data, "__getitem__") and hasattr(data, "__len__")):
        raise TypeError(f"{where}.fit: expected an array, a tensor or a map-style dataset, got "
                        f"{type(data).__name__}")
    n = len(data)
    if n == 0:
        raise ValueError(f"{where}.fit: the dataset is empty")
    get_batch = getattr(data, "__getbatch__", None)
    for start in range(0, n, _FIT_CHUNK):
        indices = np.arange(start, min(n, start + _FIT_CHUNK))
        batch = (get_batch(indices) if get_batch is not None
                 else default_collate([data[int(i)] for i in indices]))
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        yield batch.data if isinstance(batch, TensorBase) else np.asarray(batch)


def _collate_arrays(samples) -> np.ndarray:
    """Stack transformed samples exactly as ``default_collate`` would, as an array."""
    out = default_collate(samples)
    return out.data if isinstance(out, TensorBase) else np.asarray(out)


def _reduce_axes(ndim: int, per_channel: bool, where: str) -> tuple:
    if per_channel:
        if ndim < 2:
            raise ValueError(f"{where}.fit: per_channel needs data of shape (N, C, ...), got "
                             f"{ndim} dimension(s)")
        return (0,) + tuple(range(2, ndim))
    return (0,)


def _fit_moments(data, per_channel: bool, with_std: bool, where: str):
    """Mean (and population standard deviation) per feature or per channel, in float64."""
    total, count, axes = None, 0, None
    for x in _chunks(data, where):
        axes = _reduce_axes(x.ndim, per_channel, where)
        part = x.sum(axis=axes, dtype=np.float64, keepdims=True)
        total = part if total is None else total + part
        count += x.size // part.size
    mean = total / count
    if not with_std:
        return mean[0], None
    squares = 0.0
    for x in _chunks(data, where):
        deviation = x - mean
        squares = squares + (deviation * deviation).sum(axis=axes, keepdims=True)
    return mean[0], np.sqrt(squares / count)[0]


class Transform:
    """Base class of locograd's transforms.

    Subclasses implement ``__call__(sample)``; fitted ones also ``fit(data)``,
    ``state_dict()`` and ``load_state_dict()``. ``apply_batch`` applies the transform to every
    sample of a batch; subclasses that can do it in one step override it and set
    ``batched = True``.

    Example:
        >>> import numpy as np
        >>> class Double(Transform):
        ...     def __call__(self, x):
        ...         return x * 2
        >>> Double().apply_batch(np.ones((2, 3))).tolist()
        [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    """

    batched = False

    def __call__(self, x):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__")

    def apply_batch(self, batch):
        return _collate_arrays([self(sample) for sample in batch])

    def state_dict(self) -> dict:
        """The fitted state as ``{name: ndarray}`` (empty for transforms without state)."""
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        self._check_keys(state_dict, ())

    def _check_keys(self, state_dict: dict, expected) -> dict:
        """Raise one error listing every missing and unexpected key; return float64 arrays."""
        name = type(self).__name__
        missing = [k for k in expected if k not in state_dict]
        unexpected = [k for k in state_dict if k not in expected]
        if missing or unexpected:
            raise KeyError(f"{name}.load_state_dict: missing keys {missing}, unexpected keys "
                           f"{unexpected}")
        out = {}
        for key in expected:
            value = state_dict[key]
            out[key] = np.array(value.data if isinstance(value, TensorBase) else value)
        return out

    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        return f"{type(self).__name__}({self.extra_repr()})"


def apply_to_batch(transform, batch: np.ndarray) -> np.ndarray:
    """Apply ``transform`` to every sample of ``batch`` (in one step when it can)."""
    if isinstance(transform, Transform):
        out = transform.apply_batch(batch)
        return out.data if isinstance(out, TensorBase) else out
    return _collate_arrays([transform(sample) for sample in batch])


class Compose(Transform):
    """Apply several transforms in order; ``fit`` fits each on the output of the ones before.

    On a batch, runs of consecutive batched transforms run in one step and the others one
    sample at a time.

    Example:
        >>> import numpy as np
        >>> pipeline = Compose([Standardize(), Lambda(lambda x: x * 2)])
        >>> data = np.array([[0.0], [2.0]], dtype=np.float32)
        >>> pipeline.fit(data)(data[1]).tolist()
        [2.0]
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for transform in self.transforms:
            x = transform(x)
        return x

    @property
    def batched(self) -> bool:
        return all(getattr(t, "batched", False) for t in self.transforms)

    def apply_batch(self, batch):
        batch = batch.data if isinstance(batch, TensorBase) else batch
        start = 0
        while start < len(self.transforms):
            stop = start
            batched = getattr(self.transforms[start], "batched", False)
            while stop < len(self.transforms) and \
                    getattr(self.transforms[stop], "batched", False) == batched:
                stop += 1
            group = self.transforms[start:stop]
            if batched:
                for transform in group:
                    batch = apply_to_batch(transform, batch)
            else:
                batch = apply_to_batch(Compose(group).__call__, batch)
            start = stop
        return batch

    def fit(self, data) -> "Compose":
        """Fit each transform that has ``fit`` on the data transformed by the ones before it."""
        array = np.concatenate(list(_chunks(data, "Compose")))
        for i, transform in enumerate(self.transforms):
            if hasattr(transform, "fit"):
                transform.fit(array)
            if i + 1 < len(self.transforms):
                array = apply_to_batch(transform, array)
        return self

    def state_dict(self) -> dict:
        state = {}
        for i, transform in enumerate(self.transforms):
            if hasattr(transform, "state_dict"):
                state.update({f"{i}.{k}": v for k, v in transform.state_dict().items()})
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        for i, transform in enumerate(self.transforms):
            if hasattr(transform, "load_state_dict"):
                prefix = f"{i}."
                transform.load_state_dict({k[len(prefix):]: v for k, v in state_dict.items()
                                           if k.startswith(prefix)})
        known = {f"{i}." for i, t in enumerate(self.transforms) if hasattr(t, "load_state_dict")}
        unexpected = [k for k in state_dict if k.split(".", 1)[0] + "." not in known]
        if unexpected:
            raise KeyError(f"Compose.load_state_dict: unexpected keys {unexpected}")

    def extra_repr(self) -> str:
        return ", ".join(repr(t) for t in self.transforms)


class Lambda(Transform):
    """A user function as a transform.

    Args:
        function: called on one sample.
        batched: declare that ``function`` gives, on a batch ``(N, ...)``, the stack of its
            results on the samples (e.g. elementwise functions), so it may run in one step.

    Example:
        >>> import numpy as np
        >>> Lambda(np.sqrt, batched=True).apply_batch(np.array([[4.0], [9.0]])).tolist()
        [[2.0], [3.0]]
    """

    def __init__(self, function, batched: bool = False):
        if not callable(function):
            raise TypeError(f"Lambda: expected a callable, got {type(function).__name__}")
        self.function = function
        self.batched = batched

    def __call__(self, x):
        return self.function(x)

    def apply_batch(self, batch):
        return self.function(batch) if self.batched else super().apply_batch(batch)

    def extra_repr(self) -> str:
        return f"{getattr(self.function, '__name__', repr(self.function))}, batched={self.batched}"


class ToTensor(Transform):
    """An image array ``(H, W)`` or ``(H, W, C)`` as a ``(C, H, W)`` tensor (torchvision's rule).

    uint8 images are scaled to [0, 1] in the default float dtype; other dtypes are kept
    unscaled. Tensors pass through unchanged.

    Example:
        >>> import numpy as np
        >>> t = ToTensor()(np.full((2, 2, 3), 255, dtype=np.uint8))
        >>> t.shape, t.dtype, float(t.max())
        ((3, 2, 2), dtype('float32'), 1.0)
    """

    def __call__(self, x):
        if isinstance(x, TensorBase):
            return x
        array = np.asarray(x)
        if array.ndim == 2:
            array = array[None]
        elif array.ndim == 3:
            array = array.transpose(2, 0, 1)
        else:
            raise ValueError(f"ToTensor: expected an image of shape (H, W) or (H, W, C), got "
                             f"shape {array.shape}")
        if array.dtype == np.uint8:
            array = np.divide(array, 255, dtype=get_default_dtype())
        return new_tensor(np.ascontiguousarray(array))


class Center(Transform):
    """Subtract the mean of the training data, per feature or per channel.

    Args:
        per_channel: statistics per channel of ``(N, C, ...)`` data (one value per channel,
            broadcast over the spatial dimensions) instead of per feature.
        mean: a known mean instead of ``fit`` (its shape is that of the statistics: a sample's
            shape per feature, ``(C, 1, 1)`` per channel of images).

    Example:
        >>> import numpy as np
        >>> x = np.array([[1.0, 10.0], [3.0, 30.0]], dtype=np.float32)
        >>> Center().fit(x)(x).tolist()
        [[-1.0, -10.0], [1.0, 10.0]]
    """

    batched = True
    _state_keys = ("mean",)

    def __init__(self, per_channel: bool = False, mean=None):
        self.per_channel = per_channel
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)
        self._cache = {}

    def fit(self, data) -> "Center":
        """Compute the statistics from ``data`` ``(N, ...)``: an array, tensor or dataset."""
        self.mean, _ = _fit_moments(data, self.per_channel, False, type(self).__name__)
        self._cache = {}
        return self

    def _stats(self, array: np.ndarray, dtype: np.dtype):
        """The statistics cast to ``dtype``, after checking that ``array`` matches them."""
        name = type(self).__name__
        if self.mean is None:
            raise RuntimeError(f"{name}: not fitted; call fit(training_data) or "
                               f"load_state_dict() first")
        shape = self.mean.shape
        k = len(shape)
        if array.ndim not in (k, k + 1) or any(
                s != 1 and s != a for s, a in zip(shape, array.shape[array.ndim - k:])):
            raise ValueError(f"{name}: the statistics have shape {shape}; expected a sample of "
                             f"a matching shape or a batch (N, ...) of them, got shape "
                             f"{array.shape} (dtype {array.dtype})")
        cast = self._cache.get(dtype)
        if cast is None:
            cast = self._cache[dtype] = self._cast(dtype)
        return cast

    def _cast(self, dtype):
        return (self.mean.astype(dtype),)

    def __call__(self, x):
        array, was_tensor = _unwrap(x, type(self).__name__)
        dtype = _work_dtype(array)
        (mean,) = self._stats(array, dtype)
        return _rewrap(np.subtract(array, mean, dtype=dtype), was_tensor)

    def apply_batch(self, batch):
        return self(batch)

    def state_dict(self) -> dict:
        return {key: getattr(self, key) for key in self._state_keys}

    def load_state_dict(self, state_dict: dict) -> None:
        for key, value in self._check_keys(state_dict, self._state_keys).items():
            setattr(self, key, value.astype(np.float64))
        self._cache = {}

    def extra_repr(self) -> str:
        return f"per_channel={self.per_channel}"


class Standardize(Center):
    """``(x - mean) / std`` with the training data's mean and standard deviation.

    Args:
        per_channel: statistics per channel of ``(N, C, ...)`` data (an image batch in NCHW is
            normalised channel by channel) instead of per feature.
        eps: floor of the standard deviation: a constant feature maps to 0 instead of to a
            division by zero.
        mean, std: known statistics instead of ``fit`` (shaped like ``Center``'s ``mean``).

    ``std`` is the population standard deviation (``ddof=0``), so the standardised training
    data has zero mean and unit variance in every non-constant feature.

    Example:
        >>> import numpy as np
        >>> x = np.array([[1.0, 10.0], [3.0, 30.0]], dtype=np.float32)
        >>> Standardize().fit(x)(x).tolist()
        [[-1.0, -1.0], [1.0, 1.0]]
    """

    _state_keys = ("mean", "std")

    def __init__(self, per_channel: bool = False, eps: float = 1e-6, mean=None, std=None):
        super().__init__(per_channel, mean)
        if eps <= 0:
            raise ValueError(f"Standardize: eps must be positive, got {eps}")
        if (mean is None) != (std is None):
            raise ValueError("Standardize: give both mean and std, or neither (and call fit)")
        self.eps = eps
        self.std = None if std is None else np.maximum(np.asarray(std, np.float64), eps)

    def fit(self, data) -> "Standardize":
        """Compute mean and std from ``data`` ``(N, ...)``: an array, tensor or dataset."""
        self.mean, std = _fit_moments(data, self.per_channel, True, "Standardize")
        self.std = np.maximum(std, self.eps)
        self._cache = {}
        return self

    def _cast(self, dtype):
        return self.mean.astype(dtype), (1.0 / self.std).astype(dtype)

    def __call__(self, x):
        array, was_tensor = _unwrap(x, "Standardize")
        dtype = _work_dtype(array)
        mean, inverse_std = self._stats(array, dtype)
        out = np.subtract(array, mean, dtype=dtype)
        out *= inverse_std
        return _rewrap(out, was_tensor)

    def extra_repr(self) -> str:
        return f"per_channel={self.per_channel}, eps={self.eps}"


class Whiten(Transform):
    """Decorrelate features: ``W (x - mean)`` with ``W`` an inverse square root of the covariance.

    The covariance (``ddof=1``, like ``np.cov``) is eigendecomposed in float64,
    ``Cov = U diag(lambda) U^T``, and ``W = diag(1 / sqrt(lambda + eps)) U^T`` (PCA: rotate
    onto the principal axes, output ``(K,)``) or ``U diag(1 / sqrt(lambda + eps)) U^T`` (ZCA:
    stay as close to the input as possible, output in the input's shape). Directions of zero
    variance (eigenvalues below ``D * lambda_max * machine epsilon``) are mapped to 0 and
    dropped by PCA. The whitened training data has covariance ``lambda / (lambda + eps)`` along
    each kept direction: the identity, to within ``eps / lambda_min`` (with the default eps,
    about 1e-4 on the scikit-learn digits, whose smallest nonzero eigenvalue is 1.6e-6).

    Args:
        method: ``'zca'`` or ``'pca'``.
        eps: added to the eigenvalues. The default only guards the division; raise it (e.g.
            to 1e-2 for images in [0, 1]) to keep directions of tiny variance, often noise,
            from being amplified.
        n_components: PCA only: keep the largest ones (default: all of nonzero variance).

    Example:
        >>> import numpy as np
        >>> mixing = np.array([[2.0, 1, 0], [0, 1, 0], [0, 0, 3]])
        >>> x = np.random.default_rng(0).standard_normal((500, 3)) @ mixing
        >>> white = Whiten("zca", eps=1e-12).fit(x)(x)
        >>> bool(np.allclose(np.cov(white, rowvar=False), np.eye(3), atol=1e-9))
        True
    """

    batched = True

    def __init__(self, method: str = "zca", eps: float = 1e-10,
                 n_components: int | None = None):
        if method not in ("pca", "zca"):
            raise ValueError(f"Whiten: method must be 'pca' or 'zca', got {method!r}")
        if eps < 0:
            raise ValueError(f"Whiten: eps must be non-negative, got {eps}")
        if n_components is not None and method != "pca":
            raise ValueError("Whiten: n_components applies to method='pca' only")
        self.method, self.eps, self.n_components = method, eps, n_components
        self.mean = self.matrix = self.eigenvalues = self.feature_shape = None
        self._cache = {}

    def fit(self, data) -> "Whiten":
        """Estimate mean and covariance of ``data`` ``(N, ...)`` (features: all but axis 0)."""
        total, count, shape = None, 0, None
        for x in _chunks(data, "Whiten"):
            shape = x.shape[1:]
            flat = x.reshape(len(x), -1)
            part = flat.sum(axis=0, dtype=np.float64)
            total = part if total is None else total + part
            count += len(x)
        if count < 2:
            raise ValueError(f"Whiten.fit: need at least 2 samples to estimate a covariance, "
                             f"got {count}")
        mean = total / count
        scatter = np.zeros((mean.size, mean.size))
        for x in _chunks(data, "Whiten"):
            centred = x.reshape(len(x), -1) - mean
            scatter += centred.T @ centred
        eigenvalues, vectors = np.linalg.eigh(scatter / (count - 1))
        eigenvalues, vectors = eigenvalues[::-1], vectors[:, ::-1]  # largest first
        tolerance = max(eigenvalues[0], 0.0) * mean.size * np.finfo(np.float64).eps
        kept = eigenvalues > tolerance
        if self.method == "pca":
            k = int(kept.sum()) if self.n_components is None else self.n_components
            if not 1 <= k <= kept.sum():
                raise ValueError(f"Whiten: n_components={self.n_components} but the data has "
                                 f"{int(kept.sum())} directions of nonzero variance")
            matrix = vectors[:, :k].T / np.sqrt(eigenvalues[:k] + self.eps)[:, None]
        else:
            scale = np.zeros_like(eigenvalues)
            scale[kept] = 1.0 / np.sqrt(eigenvalues[kept] + self.eps)
            matrix = (vectors * scale) @ vectors.T
        self.mean, self.matrix, self.eigenvalues = mean, matrix, eigenvalues
        self.feature_shape = np.array(shape, dtype=np.int64)
        self._cache = {}
        return self

    def __call__(self, x):
        array, was_tensor = _unwrap(x, "Whiten")
        if self.matrix is None:
            raise RuntimeError("Whiten: not fitted; call fit(training_data) or "
                               "load_state_dict() first")
        shape = tuple(int(s) for s in self.feature_shape)
        if array.shape == shape:
            batch_shape = ()
        elif array.shape[1:] == shape:
            batch_shape = array.shape[:1]
        else:
            raise ValueError(f"Whiten: fitted on samples of shape {shape}; expected a sample of "
                             f"that shape or a batch (N, *{shape}), got shape {array.shape} "
                             f"(dtype {array.dtype})")
        dtype = _work_dtype(array)
        cast = self._cache.get(dtype)
        if cast is None:
            cast = self._cache[dtype] = (self.mean.astype(dtype), self.matrix.T.astype(dtype))
        flat = np.subtract(array.reshape(batch_shape + (-1,)), cast[0], dtype=dtype)
        out = flat @ cast[1]
        out_shape = shape if self.method == "zca" else (self.matrix.shape[0],)
        return _rewrap(out.reshape(batch_shape + out_shape), was_tensor)

    def apply_batch(self, batch):
        return self(batch)

    def state_dict(self) -> dict:
        return {"mean": self.mean, "matrix": self.matrix, "eigenvalues": self.eigenvalues,
                "feature_shape": self.feature_shape}

    def load_state_dict(self, state_dict: dict) -> None:
        state = self._check_keys(state_dict, ("mean", "matrix", "eigenvalues", "feature_shape"))
        self.mean = state["mean"].astype(np.float64)
        self.matrix = state["matrix"].astype(np.float64)
        self.eigenvalues = state["eigenvalues"].astype(np.float64)
        self.feature_shape = state["feature_shape"].astype(np.int64)
        if self.matrix.ndim != 2 or self.matrix.shape[1] != self.mean.size or \
                int(np.prod(self.feature_shape)) != self.mean.size:
            raise ValueError(f"Whiten.load_state_dict: inconsistent shapes: mean "
                             f"{self.mean.shape}, matrix {self.matrix.shape}, feature_shape "
                             f"{tuple(self.feature_shape)}")
        self._cache = {}

    def extra_repr(self) -> str:
        return f"method={self.method!r}, eps={self.eps}"
