"""Turning a list of samples into a batch: ``default_collate`` and ``default_convert``.

``default_collate`` follows PyTorch's rules with locograd's dtype policy:

* tensors and NumPy arrays are stacked along a new first dimension into one tensor, keeping
  their dtype (float64 data stays float64: the bundled datasets and transforms produce float32,
  so nothing upcasts silently);
* Python ``int``/``bool`` become an int64/bool tensor, NumPy scalars keep their dtype, and
  Python ``float`` becomes the *default float dtype* (float32; PyTorch gives float64 here);
* dicts, named tuples, tuples and lists are collated field by field (a tuple stays a tuple:
  PyTorch returns a list for tuples, for backward compatibility only);
* strings and bytes are returned as a list.
"""
from __future__ import annotations

import collections.abc

import numpy as np

from ..autograd.tensor_base import TensorBase, new_tensor
from ..backend import get_default_dtype

__all__ = ["default_collate", "default_convert"]


def _stack(batch) -> np.ndarray:
    arrays = [b.data if isinstance(b, TensorBase) else b for b in batch]
    try:
        return np.stack(arrays)
    except ValueError:
        shapes = [np.shape(a) for a in arrays]
        other = next(i for i, s in enumerate(shapes) if s != shapes[0])
        raise RuntimeError(f"default_collate: cannot stack samples of different shapes: sample 0 "
                           f"has shape {shapes[0]} and sample {other} has shape "
                           f"{shapes[other]}") from None


def default_collate(batch):
    """Stack a list of samples into a batch of tensors (see the module docstring for the rules).

    Args:
        batch: a non-empty sequence of samples of the same structure.

    Returns:
        The batch: tensors with a new first dimension, in the samples' structure.

    Example:
        >>> import numpy as np
        >>> x, y = default_collate([(np.zeros(3, np.float32), 1), (np.ones(3, np.float32), 0)])
        >>> x.shape, x.dtype, y.tolist()
        ((2, 3), dtype('float32'), [1, 0])
    """
    if len(batch) == 0:
        raise ValueError("default_collate: the batch is empty")
    elem = batch[0]
    if isinstance(elem, (TensorBase, np.ndarray)):
        if isinstance(elem, np.ndarray) and elem.dtype.kind in "USOV":
            raise TypeError(f"default_collate: cannot batch NumPy arrays of dtype {elem.dtype}")
        return new_tensor(_stack(batch))
    if isinstance(elem, np.generic):
        if elem.dtype.kind in "USOV":
            raise TypeError(f"default_collate: cannot batch NumPy scalars of dtype {elem.dtype}")
        return new_tensor(np.array(batch))
    if isinstance(elem, bool):
        return new_tensor(np.array(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return new_tensor(np.array(batch, dtype=np.int64))
    if isinstance(elem, float):
        return new_tensor(np.array(batch, dtype=get_default_dtype()))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([sample[key] for sample in batch]) for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:  # a mapping type that cannot be built from a dict
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # named tuple
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        for i, sample in enumerate(batch):
            if len(sample) != size:
                raise RuntimeError(f"default_collate: each element in the batch should have the "
                                   f"same length: sample 0 has {size} fields, sample {i} has "
                                   f"{len(sample)}")
        fields = [default_collate(list(field)) for field in zip(*batch)]
        if isinstance(elem, tuple):
            return tuple(fields)
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    raise TypeError(f"default_collate: a batch must contain tensors, NumPy arrays, numbers, "
                    f"dicts or lists; found {type(elem).__name__}")


def default_convert(data):
    """Turn NumPy arrays (and NumPy scalars) into tensors, recursively, without batching.

    This is the collate function of a ``DataLoader`` with ``batch_size=None``.

    Example:
        >>> import numpy as np
        >>> out = default_convert({"x": np.arange(3), "name": "a"})
        >>> type(out["x"]).__name__, out["name"]
        ('Tensor', 'a')
    """
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "USOV" else new_tensor(data)
    if isinstance(data, np.generic):
        return data if data.dtype.kind in "USOV" else new_tensor(np.asarray(data))
    if isinstance(data, (str, bytes, TensorBase)):
        return data
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(value) for key, value in data.items()}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return tuple(default_convert(d) for d in data)
    if isinstance(data, collections.abc.Sequence):
        converted = [default_convert(d) for d in data]
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    return data
