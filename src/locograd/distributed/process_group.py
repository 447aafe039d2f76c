"""The process group over MPI (mpi4py): who am I, how many are we, and the collectives.

MPI is reached only through ``mpi4py``, imported when ``init_process_group`` runs (never at
``import locograd``). Every collective here is one of mpi4py's buffer-based, upper-case calls on
NumPy arrays (``Allreduce``, ``Bcast``, ``Allgatherv``): the lower-case ones pickle Python
objects, which is slow for arrays and unsafe to receive.

A script started by ``mpirun -n N python train.py`` calls ``init_process_group()`` once; started
as plain ``python train.py`` it is a group of one, and everything works the same.
"""
from __future__ import annotations

import os
import sys
import traceback

import numpy as np

from ..autograd.tensor_base import TensorBase

__all__ = ["init_process_group", "destroy_process_group", "abort", "is_initialized",
           "is_available", "get_rank", "get_world_size", "barrier", "all_reduce", "broadcast",
           "ReduceOp", "launched_by_mpi", "INSTALL_HINT"]

INSTALL_HINT = ("pip install mpi4py mpich   (or: pip install 'locograd[mpi]'; the mpich wheel "
                "brings the MPI library and mpiexec, no system package needed)")

#: environment variables through which launchers tell a process the job's size
_LAUNCHER_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE")


class ReduceOp:
    """The reductions of ``all_reduce`` (PyTorch's ``dist.ReduceOp`` names)."""

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"


class _Group:
    """The state of the default process group (one per process)."""

    comm = None          # a duplicate of MPI.COMM_WORLD: our messages never meet the user's
    mpi = None           # the mpi4py.MPI module
    rank = 0
    size = 1
    local_size = 1       # ranks on this machine (they share its cores)
    previous_excepthook = None
    previous_exit = None
    exit_status = None   # the failing status of a sys.exit on this rank, if any


_group = _Group()


def _import_mpi():
    """``mpi4py.MPI``, or an ``ImportError`` that says what to install."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(f"locograd.distributed needs mpi4py and an MPI library, which are "
                          f"not installed or not loadable ({error}). Install them with: "
                          f"{INSTALL_HINT}") from error
    except RuntimeError as error:  # mpi4py found but the MPI library failed to load or start
        raise ImportError(f"locograd.distributed could not start MPI ({error}). Install a "
                          f"working MPI with: {INSTALL_HINT}") from error
    return MPI


def is_available() -> bool:
    """True when mpi4py is installed (its MPI library is loaded by ``init_process_group``)."""
    import importlib.util
    return importlib.util.find_spec("mpi4py") is not None


def launched_by_mpi() -> bool:
    """True when this process was started by ``mpirun``/``mpiexec`` (or ``srun``) with more
    than one rank, judging from the launcher's environment variables (MPI is not started).

    Example:
        >>> import os
        >>> launched_by_mpi() == any(int(os.environ.get(v, "1")) > 1
        ...                          for v in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE"))
        True
    """
    for name in _LAUNCHER_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 1:
            return True
    return False


def init_process_group(backend: str = "mpi", abort_on_exception: bool = True) -> None:
    """Join the job's process group: every rank started by ``mpirun`` calls it once.

    Args:
        backend: ``'mpi'``, the only backend (PyTorch's argument name).
        abort_on_exception: when more than one rank runs, an exception that escapes on one rank
            prints its traceback and aborts the whole job (``MPI_Abort``), instead of leaving the
            other ranks waiting forever in their next collective; so does ``sys.exit(code)``
            with a non-zero code (or a message) on one rank. ``sys.exit(0)`` (or ``None``)
            before the others are done still leaves them waiting: that is a normal end, which
            a rank cannot tell from finishing early. (A failing ``sys.exit`` whose
            ``SystemExit`` is caught and swallowed still aborts the job when the rank exits.)

    Raises:
        ImportError: mpi4py or the MPI library is missing (the message says what to install).
        RuntimeError: the group is already initialised.

    Example:
        >>> from locograd import distributed as dist
        >>> dist.init_process_group()          # doctest: +SKIP
        >>> dist.get_rank(), dist.get_world_size()   # doctest: +SKIP
        (0, 1)
    """
    if backend != "mpi":
        raise ValueError(f"init_process_group: backend must be 'mpi' (the only backend), got "
                         f"{backend!r}")
    if _group.comm is not None:
        raise RuntimeError("init_process_group: the default process group is already "
                           "initialised (call destroy_process_group() first)")
    MPI = _import_mpi()
    comm = MPI.COMM_WORLD.Dup()
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    _group.local_size = local.Get_size()
    local.Free()
    _group.mpi, _group.comm = MPI, comm
    _group.rank, _group.size = comm.Get_rank(), comm.Get_size()
    if abort_on_exception and _group.size > 1:
        _group.previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_exception
        _group.previous_exit = sys.exit
        sys.exit = _exit_and_abort
        import atexit
        atexit.register(_abort_after_failed_exit)


def _exit_and_abort(status=None):
    """``sys.exit`` while a multi-rank group runs: remember a failing status, so that the exit
    takes the job down (``_abort_after_failed_exit``) instead of hanging the other ranks."""
    if status not in (None, 0):
        _group.exit_status = status
    raise SystemExit(status)


def _abort_after_failed_exit() -> None:
    """At interpreter exit: abort the job if this rank left by ``sys.exit`` with a failure,
    before any ``finally`` or ``atexit`` code of the others could wait for it."""
    status = _group.exit_status
    if status is None or _group.comm is None or _group.size <= 1:
        return
    code = status if isinstance(status, int) and not isinstance(status, bool) else 1
    rank, size = _group.rank, _group.size
    if not isinstance(status, int):
        sys.stderr.write(f"[rank {rank}] {status}\n")
    sys.stderr.write(f"[rank {rank}] locograd.distributed: rank {rank} of {size} called "
                     f"sys.exit({status!r}); aborting the job (MPI_Abort)\n")
    abort(code)


def _abort_on_exception(kind, value, trace) -> None:
    """``sys.excepthook`` of a multi-rank job: show the error, then take every rank down."""
    rank, size = _group.rank, _group.size
    text = "".join(traceback.format_exception(kind, value, trace))
    sys.stderr.write("".join(f"[rank {rank}] {line}\n" for line in text.splitlines()))
    sys.stderr.write(f"[rank {rank}] locograd.distributed: rank {rank} of {size} raised "
                     f"{kind.__name__}; aborting the job (MPI_Abort)\n")
    abort(1)


def abort(code: int = 1) -> None:
    """End every rank of the job now (``MPI_Abort``), for a rank that must stop while the others
    may be waiting in a collective; does nothing in a group of one (the caller exits)."""
    if _group.comm is not None and _group.size > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        _group.comm.Abort(int(code) or 1)


def destroy_process_group() -> None:
    """Leave the process group (MPI itself stays up until the process exits, so
    ``init_process_group`` may be called again)."""
    if _group.comm is None:
        return
    if sys.excepthook is _abort_on_exception:
        sys.excepthook = _group.previous_excepthook or sys.__excepthook__
    if sys.exit is _exit_and_abort:
        sys.exit = _group.previous_exit
    _group.exit_status = None
    _group.comm.Free()
    _group.comm = None
    _group.rank, _group.size, _group.local_size = 0, 1, 1


def is_initialized() -> bool:
    """True between ``init_process_group`` and ``destroy_process_group``."""
    return _group.comm is not None


def _require(where: str):
    if _group.comm is None:
        raise RuntimeError(f"{where}: the default process group has not been initialised; "
                           f"call locograd.distributed.init_process_group() first")
    return _group.comm


def get_rank() -> int:
    """This process's rank in ``[0, world_size)``; rank 0 prints and writes checkpoints."""
    _require("get_rank")
    return _group.rank


def get_world_size() -> int:
    """The number of processes in the group (1 without ``mpirun``)."""
    _require("get_world_size")
    return _group.size


def local_world_size() -> int:
    """The number of ranks on this machine (they share its cores)."""
    _require("local_world_size")
    return _group.local_size


def barrier() -> None:
    """Wait until every rank has reached this call."""
    _require("barrier").Barrier()


def _contiguous(where: str, value) -> np.ndarray:
    array = value.data if isinstance(value, TensorBase) else value
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{where}: expected a tensor or an ndarray, got {type(value).__name__}")
    if not (array.flags.c_contiguous and array.flags.writeable):
        raise ValueError(f"{where}: the array (shape {array.shape}, dtype {array.dtype}) must be "
                         f"C-contiguous and writeable to be used as an MPI buffer")
    return array


def all_reduce(tensor, op: str = ReduceOp.SUM) -> None:
    """Reduce ``tensor`` over all ranks, in place, so that every rank holds the result.

    Args:
        tensor: a tensor or ndarray (C-contiguous), the same shape and dtype on every rank.
        op: ``'sum'``, ``'avg'``, ``'max'`` or ``'min'`` (``ReduceOp``).

    Example:
        >>> import locograd as lg
        >>> from locograd import distributed as dist
        >>> t = lg.ones(3)
        >>> dist.all_reduce(t, dist.ReduceOp.SUM)   # doctest: +SKIP
    """
    comm = _require("all_reduce")
    array = _contiguous("all_reduce", tensor)
    MPI = _group.mpi
    ops = {"sum": MPI.SUM, "avg": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}
    if op not in ops:
        raise ValueError(f"all_reduce: op must be one of {sorted(ops)}, got {op!r}")
    if _group.size > 1:
        comm.Allreduce(MPI.IN_PLACE, array, op=ops[op])
        if op == "avg":
            array /= _group.size
    if isinstance(tensor, TensorBase):
        tensor._version[0] += 1


def broadcast(tensor, src: int = 0) -> None:
    """Overwrite ``tensor`` on every rank with its value on rank ``src``, in place.

    Args:
        tensor: a tensor or ndarray (C-contiguous), the same shape and dtype on every rank.
        src: the rank whose value everyone gets.
    """
    comm = _require("broadcast")
    array = _contiguous("broadcast", tensor)
    if _group.size > 1:
        comm.Bcast(array, root=src)
    if isinstance(tensor, TensorBase):
        tensor._version[0] += 1


def broadcast_array(array, src: int = 0) -> np.ndarray:
    """Rank ``src``'s array on every rank, whatever the other ranks hold (their shapes and
    dtypes may differ): the shape and dtype go first, in a small int64 header."""
    comm = _require("broadcast_array")
    if _group.size == 1:
        return np.asarray(array)
    header = np.zeros(34, dtype=np.int64)
    if _group.rank == src:
        array = np.ascontiguousarray(array)
        code = array.dtype.str.encode("ascii")
        if array.ndim > 24 or len(code) > 8:
            raise ValueError(f"broadcast_array: cannot send an array of shape {array.shape} "
                             f"and dtype {array.dtype}")
        header[0] = array.ndim
        header[1:1 + array.ndim] = array.shape
        header[25:25 + len(code)] = list(code)
    comm.Bcast(header, root=src)
    if _group.rank != src:
        dtype = np.dtype(bytes(int(c) for c in header[25:] if c).decode("ascii"))
        array = np.empty(tuple(int(s) for s in header[1:1 + header[0]]), dtype=dtype)
    comm.Bcast(array, root=src)
    return array


def all_gather_bytes(payload: np.ndarray) -> list[np.ndarray]:
    """Every rank's byte string (a uint8 array, of any length per rank), in rank order, through
    one ``Allgather`` of the lengths and one ``Allgatherv`` of the bytes."""
    comm = _require("all_gather_bytes")
    payload = np.ascontiguousarray(payload, dtype=np.uint8)
    if _group.size == 1:
        return [payload]
    counts = np.zeros(_group.size, dtype=np.int64)
    comm.Allgather(np.array([payload.size], dtype=np.int64), counts)
    displacements = np.zeros_like(counts)
    np.cumsum(counts[:-1], out=displacements[1:])
    received = np.empty(int(counts.sum()), dtype=np.uint8)
    comm.Allgatherv(payload, [received, counts, displacements, _group.mpi.BYTE])
    return [received[start:start + count] for start, count in zip(displacements, counts)]


def average_values(values: dict) -> dict:
    """The floats of ``values`` (the same keys on every rank) averaged over the ranks; other
    entries (integers such as the epoch) unchanged. Used for a training history that every
    rank agrees on."""
    _require("average_values")
    keys = sorted(k for k, v in values.items() if isinstance(v, (float, np.floating)))
    if _group.size == 1 or not keys:
        return dict(values)
    numbers = np.array([float(values[k]) for k in keys], dtype=np.float64)
    all_reduce(numbers, ReduceOp.AVG)
    averaged = dict(values)
    averaged.update(zip(keys, (float(v) for v in numbers)))
    return averaged
