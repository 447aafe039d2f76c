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


#: the largest array ``read_idx`` builds unless told otherwise (MNIST's training images: 47 MB)
MAX_BYTES = 2 << 30
#: deflate cannot expand data more than about 1032 times
_MAX_GZIP_RATIO = 1032
_CHUNK = 16 << 20


def _open_file(path: str):
    """``(file, its size, gzip?)``: the file opened for reading, a regular file only (a named
    pipe or a device would block or never end); gzip detected from the first bytes."""
    import stat

    try:
        # O_NONBLOCK: a named pipe must not block the open before it can be refused
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"read_idx: no such file: {path}") from None
    handle = os.fdopen(fd, "rb")
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        handle.close()
        raise ValueError(f"read_idx: {path} is not a regular file")
    compressed = handle.read(2) == b"\x1f\x8b"
    handle.seek(0)
    return handle, info.st_size, compressed


def _read_exactly(stream, count: int, path: str, compressed: bool) -> bytes:
    """Up to ``count`` bytes (fewer at the end of the data), read in chunks."""
    pieces, left = [], count
    try:
        while left > 0:
            piece = stream.read(min(left, _CHUNK))
            if not piece:
                break
            pieces.append(piece)
            left -= len(piece)
    except (EOFError, OSError, zlib.error) as error:
        if not compressed:
            raise
        raise ValueError(f"read_idx: {path} is a truncated or corrupt gzip file ({error})") \
            from None
    return b"".join(pieces)


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

def read_idx(path, expected_magic: int | None = None,
             max_bytes: int = MAX_BYTES) -> np.ndarray:
    """Read an IDX file (raw or gzip) into an array of its dtype and shape.

    Args:
        path: the file.
        expected_magic: if given, the file's magic number must be this one.
        max_bytes: the largest data the header may announce (default 2 GiB). The sizes are
            checked before reading, and a gzip file is inflated only as far as the header
            declares (plus one bounded chunk, to detect trailing data): a decompression bomb
            is an error, not an exhausted memory.

    Returns:
        A read-only array in native byte order (uint8 data is not copied).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not IDX (or not a regular file), has another magic number,
            announces more than ``max_bytes``, or is truncated or longer than its header says;
            the message names the file.

    Example:
        >>> import tempfile, os, numpy as np
        >>> path = os.path.join(tempfile.mkdtemp(), "labels-idx1-ubyte.gz")
        >>> write_idx(path, np.array([3, 1, 4], np.uint8))
        >>> read_idx(path, expected_magic=2049).tolist()
        [3, 1, 4]
    """
    path = os.fspath(path)
    handle, file_size, compressed = _open_file(path)
    with handle, (gzip.GzipFile(fileobj=handle) if compressed else handle) as stream:
        return _read_idx(stream, path, file_size, compressed, expected_magic, max_bytes)


def _read_idx(stream, path, file_size, compressed, expected_magic, max_bytes) -> np.ndarray:
    raw = _read_exactly(stream, 4, path, compressed)
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
    raw += _read_exactly(stream, header - 4, path, compressed)
    if len(raw) < header:
        raise ValueError(f"read_idx: {path} is truncated inside its header ({len(raw)} bytes, "
                         f"the header of a {ndim}-dimensional file has {header})")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _TYPES[raw[2]]
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    # Sizes are checked before the data is read or inflated: a header that announces more than
    # the limit, or more than the file (or its compressed bytes) can hold, is refused first.
    if expected > max_bytes:
        raise ValueError(f"read_idx: {path} announces shape {shape} of "
                         f"{dtype.newbyteorder('=')}, {expected:,} bytes, more than the "
                         f"{max_bytes:,} allowed (pass max_bytes to read larger files)")
    capacity = (file_size * _MAX_GZIP_RATIO if compressed else file_size - header)
    if expected > capacity:
        what = f"its {file_size:,} compressed bytes can hold" if compressed \
            else f"the {file_size - header:,} bytes after its header"
        raise ValueError(f"read_idx: {path} is truncated: its header announces shape {shape} "
                         f"of {dtype.newbyteorder('=')} ({expected} bytes), more than {what}")
    body = _read_exactly(stream, expected, path, compressed)
    if len(body) < expected:
        raise ValueError(f"read_idx: {path} is truncated: its header announces shape {shape} "
                         f"of {dtype.newbyteorder('=')} ({expected} bytes) but only "
                         f"{len(body)} bytes follow")
    extra = len(_read_exactly(stream, _CHUNK, path, compressed))  # bounded, even for a bomb
    if extra:
        more = f"{extra}" if extra < _CHUNK else f"at least {extra}"
        raise ValueError(f"read_idx: {path} is corrupt: {more} bytes more than the shape "
                         f"{shape} in its header announces")
    array = np.frombuffer(body, dtype=dtype, count=int(np.prod(shape)))
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
