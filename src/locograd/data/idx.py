"""The IDX file format of MNIST: ``read_idx`` validates everything and names the file on error.

Layout: two zero bytes, a type code, the number of dimensions ``n``, then ``n`` big-endian
uint32 sizes, then the data in big-endian order. The four header bytes read as one big-endian
integer are the "magic number" (2051 for MNIST images: unsigned bytes, 3 dimensions; 2049 for
the labels: unsigned bytes, 1 dimension). Files may be gzip-compressed (detected from their
first bytes, whatever their name).
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

__all__ = ["read_idx", "write_idx", "idx_magic", "find_idx_file"]

_TYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {dtype.newbyteorder("="): code for code, dtype in _TYPES.items()}


def idx_magic(dtype, ndim: int) -> int:
    """The magic number of an IDX file of ``dtype`` with ``ndim`` dimensions (uint8, 3: 2051)."""
    return (_CODES[np.dtype(dtype).newbyteorder("=")] << 8) | ndim


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"read_idx: no such file: {path}") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise ValueError(f"read_idx: {path} is a truncated or corrupt gzip file ({error})") \
            from None



def find_idx_file(root: str, names) -> tuple[str | None, list]:
    """The first of ``names`` (each plain or ``.gz``) in ``root`` or ``root/MNIST/raw`` (the
    layout torchvision downloads to), as ``(path, [])``; ``(None, every path tried)`` when none
    exists, for the caller's error message.

    Example:
        >>> import tempfile
        >>> find_idx_file(tempfile.mkdtemp(), ["t10k-images-idx3-ubyte"])[0] is None
        True
    """
    tried = []
    for directory in (root, os.path.join(root, "MNIST", "raw")):
        for name in names:
            for candidate in (name, name + ".gz"):
                path = os.path.join(directory, candidate)
                if os.path.isfile(path):
                    return path, []
                tried.append(path)
    return None, tried

def read_idx(path, expected_magic: int | None = None) -> np.ndarray:
    """Read an IDX file (raw or gzip) into an array of its dtype and shape.

    Args:
        path: the file.
        expected_magic: if given, the file's magic number must be this one.

    Returns:
        A read-only array in native byte order (uint8 data is not copied).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not IDX, has another magic number, or is truncated or longer
            than its header says; the message names the file.

    Example:
        >>> import tempfile, os, numpy as np
        >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
        >>> write_idx(path, np.array([3, 1, 4], np.uint8))
        >>> read_idx(path, expected_magic=2049).tolist()
        [3, 1, 4]
    """
    path = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"read_idx: {path} is truncated: {len(raw)} bytes, shorter than the "
                         f"4-byte IDX header")
    magic = struct.unpack(">I", raw[:4])[0]
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES or raw[3] == 0:
        raise ValueError(f"read_idx: {path} is not an IDX file (magic number {magic} = "
                         f"0x{magic:08x})")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(f"read_idx: {path} has magic number {magic}, expected "
                         f"{expected_magic}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path} is truncated inside its header ({len(raw)} bytes, "
                         f"the header of a {ndim}-dimensional file has {header})")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _TYPES[raw[2]]
    expected = int(np.prod(shape)) * dtype.itemsize
    found = len(raw) - header
    if found < expected:
        raise ValueError(f"read_idx: {path} is truncated: its header announces shape {shape} "
                         f"of {dtype.newbyteorder('=')} ({expected} bytes) but only {found} "
                         f"bytes follow")
    if found > expected:
        raise ValueError(f"read_idx: {path} is corrupt: {found - expected} bytes more than the "
                         f"shape {shape} in its header announces")
    array = np.frombuffer(raw, dtype=dtype, count=int(np.prod(shape)), offset=header)
    if dtype.byteorder == ">":
        array = array.astype(dtype.newbyteorder("="))
        array.flags.writeable = False
    return array.reshape(shape)


def write_idx(path, array) -> None:
    """Write ``array`` as an IDX file, gzip-compressed if ``path`` ends with ``.gz``.

    Example:
        >>> import tempfile, os, numpy as np
        >>> path = os.path.join(tempfile.mkdtemp(), "x-idx3-ubyte")
        >>> write_idx(path, np.zeros((2, 3, 3), np.uint8))
        >>> read_idx(path).shape
        (2, 3, 3)
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODES:
        raise TypeError(f"write_idx: IDX stores uint8, int8, int16, int32, float32 or float64, "
                        f"not {array.dtype}")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"write_idx: IDX needs 1 to 255 dimensions, got shape {array.shape}")
    code = _CODES[native]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    body = np.ascontiguousarray(array, dtype=_TYPES[code]).tobytes()
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + body)
