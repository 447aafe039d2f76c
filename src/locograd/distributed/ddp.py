"""``DistributedDataParallel``: the same model on every rank, gradients averaged after backward.

Each rank runs the forward and backward pass on its own shard of the batch (``DistributedSampler``);
the gradients are then averaged over the ranks, so that every rank's optimiser takes the same
step from the same weights: the weights stay identical without ever being sent again.

How the averaging is triggered: every trainable parameter gets a
``register_post_accumulate_grad_hook``. The parameters are grouped into flat buckets of about
``bucket_cap_mb`` (in reverse order of ``parameters()``, roughly the order in which backward
finishes them); when the last parameter of a bucket has its ``.grad`` accumulated, the bucket's
gradients are copied into one contiguous buffer, summed over the ranks by one buffer-based
``Allreduce``, divided by the world size and copied back into the ``.grad`` arrays. When
``backward`` returns, every ``.grad`` holds the average, whatever the optimiser does next.
"""
from __future__ import annotations

import contextlib
import time
import weakref
import zlib
from functools import partial

import numpy as np

from ..autograd.grad_mode import is_grad_enabled
from ..nn.module import Module
from . import process_group as pg

__all__ = ["DistributedDataParallel", "broadcast_module"]


def broadcast_module(module: Module, src: int = 0) -> None:
    """Give every rank rank ``src``'s parameters and buffers (buffer-based ``Bcast``s), after
    checking that the ranks hold the same architecture (names, shapes and dtypes).

    Args:
        module: the model, built alike on every rank.
        src: the rank whose values everyone gets.
    """
    tensors = list(module.named_parameters()) + list(module.named_buffers())
    if pg.get_world_size() == 1:
        return
    layout = ";".join(f"{name}:{t.data.shape}:{t.data.dtype}" for name, t in tensors)
    mine = np.array([len(tensors), sum(t.data.size for _, t in tensors),
                     zlib.crc32(layout.encode())], dtype=np.int64)
    low, high = mine.copy(), mine.copy()
    pg.all_reduce(low, pg.ReduceOp.MIN)
    pg.all_reduce(high, pg.ReduceOp.MAX)
    if not np.array_equal(low, high):
        raise RuntimeError(
            f"{type(module).__name__} differs between the ranks (rank {pg.get_rank()} has "
            f"{len(tensors)} parameters and buffers with {int(mine[1])} elements): build the "
            f"same model on every rank before wrapping it")
    for _, tensor in tensors:
        array = tensor.data
        if array.flags.c_contiguous and array.flags.writeable:
            pg.broadcast(array, src)
        else:
            copy = np.ascontiguousarray(array)
            pg.broadcast(copy, src)
            np.copyto(array, copy)
        tensor._version[0] += 1


class _Bucket:
    """Parameters whose gradients are averaged together, through one flat buffer."""

    def __init__(self, params: list, dtype):
        self.params = params
        self.names = [name for name, _ in params]
        sizes = [p.data.size for _, p in params]
        self.stops = np.cumsum(sizes).tolist()
        self.starts = [stop - size for stop, size in zip(self.stops, sizes)]
        self.buffer = np.empty(self.stops[-1] if sizes else 0, dtype=dtype)
        self.waiting = set(range(len(params)))  # slots whose gradient is not final yet


def _on_grad_ready(reference, bucket_index: int, slot: int, _param) -> None:
    ddp = reference()
    if ddp is not None:
        ddp._grad_ready(bucket_index, slot)


class DistributedDataParallel(Module):
    """Data parallelism over MPI ranks (``torch.nn.parallel.DistributedDataParallel``).

    At construction rank 0's parameters and buffers are broadcast to every rank. In each
    ``backward`` that follows a forward pass through this wrapper, the gradients are averaged
    over the ranks (see the module docstring), so any optimiser steps identically on every
    rank. Use it with a ``DistributedSampler`` so that each rank sees its own shard.

    Optimisers:

    * first-order ones (SGD, Adam, ...) and ``Shampoo`` need nothing more: Shampoo's
      statistics are built from the averaged gradients, hence identical on every rank;
    * ``KFAC`` collects its curvature statistics (layer inputs, output gradients) from the local
      shard through module hooks: register it with ``ddp.register_kfac(optimizer)``. The summed
      statistics and their counts are then averaged over the ranks right after the gradients,
      so the factors are those of the whole batch, the same on every rank (the output gradients
      are per-example gradients, which do not depend on how the batch is split).

    Args:
        module: the model (built alike on every rank).
        bucket_cap_mb: the size of a gradient bucket in megabytes (default 25, PyTorch's):
            fewer, larger ``Allreduce`` calls against less memory for the buffers.
        broadcast_buffers: send rank 0's buffers (BatchNorm's running statistics) to every
            rank at the start of each training forward pass (default True).

    Attributes:
        module: the wrapped model.
        communication_seconds: time spent in gradient ``Allreduce`` calls so far (for
            benchmarks; not in PyTorch).

    Deliberate differences from PyTorch: ``state_dict()`` is the wrapped module's, without
    PyTorch's ``'module.'`` prefix, so a checkpoint of a distributed run loads into the plain
    model (``load_state_dict`` accepts both forms); parameter names (``named_parameters``)
    keep the prefix. Every trainable parameter must get a gradient in every backward pass (no
    ``find_unused_parameters``): otherwise the next forward raises, naming the parameters.
    One process per rank on the CPU: no ``device_ids``.

    Example:
        >>> import locograd as lg
        >>> from locograd import nn, distributed as dist
        >>> dist.init_process_group()                        # doctest: +SKIP
        >>> model = dist.DistributedDataParallel(nn.Linear(4, 2))   # doctest: +SKIP
        >>> model(lg.randn(8, 4)).sum().backward()           # doctest: +SKIP
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25.0,
                 broadcast_buffers: bool = True):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an nn.Module, got "
                            f"{type(module).__name__}")
        if not float(bucket_cap_mb) > 0.0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got "
                             f"{bucket_cap_mb!r}")
        pg._require("DistributedDataParallel")
        self.module = module
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.broadcast_buffers = bool(broadcast_buffers)
        self.require_backward_grad_sync = True
        self.communication_seconds = 0.0
        self._armed = False  # set by forward: average in the coming backward
        self._kfac = []
        self._finished = 0   # buckets averaged in the current backward pass
        broadcast_module(module)
        self._buckets = self._make_buckets()
        reference = weakref.ref(self)  # the hooks must not keep the wrapper alive...
        self._handles = [
            p.register_post_accumulate_grad_hook(partial(_on_grad_ready, reference, b, slot))
            for b, bucket in enumerate(self._buckets) for slot, (_, p) in enumerate(bucket.params)]
        weakref.finalize(self, _remove_handles, self._handles)  # ...and go when it goes

    def _make_buckets(self) -> list[_Bucket]:
        cap = int(self.bucket_cap_mb * 2 ** 20)
        trainable = [(name, p) for name, p in self.module.named_parameters() if p.requires_grad]
        buckets, open_buckets = [], {}
        for name, p in reversed(trainable):
            if p.data.dtype.kind != "f":
                continue
            current = open_buckets.setdefault(p.data.dtype, [])
            if current and (sum(q.data.nbytes for _, q in current) + p.data.nbytes > cap):
                buckets.append(_Bucket(current, p.data.dtype))
                current = open_buckets[p.data.dtype] = []
            current.append((name, p))
        buckets.extend(_Bucket(params, dtype) for dtype, params in open_buckets.items() if params)
        return buckets

    # ---- forward and the gradient averaging -----------------------------------------------

    def forward(self, *args, **kwargs):
        """Run the wrapped module; arm the gradient averaging of the coming backward."""
        stale = [name for bucket in self._buckets if len(bucket.waiting) < len(bucket.params)
                 for slot, name in enumerate(bucket.names) if slot in bucket.waiting]
        if stale:
            raise RuntimeError(
                f"DistributedDataParallel: the previous backward pass gave no gradient to "
                f"{', '.join(stale)}, so the gradients of their bucket were not averaged over "
                f"the ranks. Every trainable parameter must take part in the loss: freeze the "
                f"unused ones (requires_grad_(False)) before wrapping the model")
        self._armed = self.require_backward_grad_sync and is_grad_enabled()
        if self._armed and self.broadcast_buffers and self.training \
                and pg.get_world_size() > 1:
            for buffer in self.module.buffers():
                pg.broadcast(buffer, 0)
        return self.module(*args, **kwargs)

    def _grad_ready(self, bucket_index: int, slot: int) -> None:
        if not self._armed:
            return  # inside no_sync(), or a backward not through this wrapper's forward
        bucket = self._buckets[bucket_index]
        bucket.waiting.discard(slot)
        if bucket.waiting:
            return
        self._average(bucket)
        bucket.waiting.update(range(len(bucket.params)))
        self._finished += 1
        if self._finished == len(self._buckets):
            self._finished = 0
            for optimizer in self._kfac:
                _average_kfac_statistics(optimizer)

    def _average(self, bucket: _Bucket) -> None:
        """Average the bucket's gradients over the ranks (one ``Allreduce``)."""
        size = pg.get_world_size()
        if size == 1:
            return
        buffer = bucket.buffer
        for (_, p), start, stop in zip(bucket.params, bucket.starts, bucket.stops):
            buffer[start:stop] = p.grad.data.reshape(-1)
        started = time.perf_counter()
        pg.all_reduce(buffer, pg.ReduceOp.SUM)
        self.communication_seconds += time.perf_counter() - started
        buffer /= size
        for (_, p), start, stop in zip(bucket.params, bucket.starts, bucket.stops):
            p.grad.data[...] = buffer[start:stop].reshape(p.grad.data.shape)

    @contextlib.contextmanager
    def no_sync(self):
        """A context in which backward passes accumulate local gradients without averaging them;
        the first backward after it averages everything accumulated (gradient accumulation).

        Example:
            >>> with ddp.no_sync():                  # doctest: +SKIP
            ...     ddp(x1).sum().backward()         # local gradients only
            >>> ddp(x2).sum().backward()             # doctest: +SKIP
        """
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def register_kfac(self, optimizer) -> None:
        """Average ``optimizer``'s curvature statistics over the ranks after every synchronised
        backward pass, so that K-FAC's factors are those of the whole batch on every rank.

        Args:
            optimizer: a ``locograd.optim.KFAC`` built on this wrapper's module.
        """
        from ..optim.kfac import KFAC
        if not isinstance(optimizer, KFAC):
            raise TypeError(f"DistributedDataParallel.register_kfac: expected a KFAC optimizer, "
                            f"got {type(optimizer).__name__}")
        owned = {id(p) for p in self.module.parameters()}
        if any(id(layer.weight) not in owned for layer in optimizer._layers):
            raise ValueError("DistributedDataParallel.register_kfac: the optimizer preconditions "
                             "layers outside the wrapped module")
        if optimizer not in self._kfac:
            self._kfac.append(optimizer)

    # ---- state ----------------------------------------------------------------------------

    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """The wrapped module's ``state_dict`` (no ``'module.'`` prefix; see the class doc)."""
        return self.module.state_dict(destination, prefix, keep_vars)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load into the wrapped module; keys with PyTorch's ``'module.'`` prefix also work."""
        if state_dict and all(key.startswith("module.") for key in state_dict):
            state_dict = {key[len("module."):]: value for key, value in state_dict.items()}
        return self.module.load_state_dict(state_dict, strict, assign)

    def extra_repr(self) -> str:
        return f"buckets={len(self._buckets)}, bucket_cap_mb={self.bucket_cap_mb:g}"


def _remove_handles(handles: list) -> None:
    for handle in handles:
        handle.remove()
    handles.clear()


def _average_kfac_statistics(optimizer) -> None:
    """Sum K-FAC's per-layer statistics (``sum a a^T``, ``sum g g^T`` and their counts) over the
    ranks and divide by the world size: the factor ``sum / count`` is then the whole batch's,
    and a second synchronised backward before the step adds up correctly again."""
    size = pg.get_world_size()
    if size == 1:
        return
    layers = optimizer._layers
    counts = np.array([[layer.input_count, layer.gradient_count] for layer in layers],
                      dtype=np.float64)
    pg.all_reduce(counts, pg.ReduceOp.SUM)
    active = [(layer, pair) for layer, pair in zip(layers, counts) if pair.any()]
    if not active:
        return  # not a step that updates the factors
    dtype = layers[0].weight.data.dtype
    shapes = []
    for layer, _ in active:
        weight = layer.weight.data
        inputs = int(np.prod(weight.shape[1:])) + (layer.bias is not None)
        shapes += [(inputs, inputs), (weight.shape[0], weight.shape[0])]
    sizes = [a * b for a, b in shapes]
    flat = np.zeros(sum(sizes), dtype=dtype)
    stops = np.cumsum(sizes)
    for index, (layer, _) in enumerate(active):
        for part, total in enumerate((layer.input_sum, layer.gradient_sum)):
            if total is not None:
                k = 2 * index + part
                flat[stops[k] - sizes[k]:stops[k]] = total.reshape(-1)
    pg.all_reduce(flat, pg.ReduceOp.SUM)
    flat /= size
    for index, (layer, pair) in enumerate(active):
        k = 2 * index
        layer.input_sum = flat[stops[k] - sizes[k]:stops[k]].reshape(shapes[k]).copy()
        layer.gradient_sum = flat[stops[k + 1] - sizes[k + 1]:stops[k + 1]].reshape(
            shapes[k + 1]).copy()
        layer.input_count, layer.gradient_count = pair[0] / size, pair[1] / size
