"""``DistributedLocoProp``: LocoProp with the layers' local problems spread over the ranks.

After LocoProp's forward and backward pass, each layer's local problem reads only frozen
results (its input, pre-activation and output gradient) and writes only its own weights and
inner-optimiser state. So the ranks can split the layers: every rank runs the forward and
backward pass on the *whole* minibatch (the same on every rank), solves the layers it owns, and
the ranks then exchange the updated weights and inner states with one buffer-based
``Allgatherv``. Each layer's solve is exactly the arithmetic of the single-process one, so the
step equals ``LocoProp.step`` bit for bit.

Why the whole minibatch on every rank rather than shards: a layer's local problem sums over all
rows at each of its inner steps, so sharded rows would need an ``Allreduce`` per inner step and
layer, and the sums would be added in another order (no longer bit for bit). The forward and
backward pass cost about two inner steps, against ``inner_steps`` (10) inner steps per layer,
so repeating them on every rank costs little.
"""
from __future__ import annotations

import json
import time

import numpy as np

from ..factory import as_tensor
from ..locoprop.trainer import LocoProp, _available_cpus
from . import process_group as pg
from .ddp import broadcast_module

__all__ = ["DistributedLocoProp", "assign_layers"]

_ALIGN = 8


def assign_layers(sizes: list[int], ranks: int) -> list[int]:
    """The rank that solves each layer: the largest layers first, each to the least-loaded rank
    (ties to the lowest rank); the same answer on every rank.

    Example:
        >>> assign_layers([100, 10, 60, 50], 2)   # rank 0: 100 + 10, rank 1: 60 + 50
        [0, 0, 1, 1]
    """
    loads = [0] * ranks
    owner = [0] * len(sizes)
    for index in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        rank = min(range(ranks), key=lambda r: (loads[r], r))
        owner[index] = rank
        loads[rank] += sizes[index]
    return owner


class DistributedLocoProp(LocoProp):
    """``LocoProp`` whose layers are solved on different ranks (see the module docstring).

    Every rank builds the same model and calls ``step(inputs, targets)`` with the same
    minibatch: give every rank the same loader (no ``DistributedSampler``). With
    ``broadcast_batch`` (default) rank 0's minibatch is sent to the others first, so ranks
    whose loaders disagree still train on one batch. Rank 0's weights are broadcast at
    construction. After each step every rank holds all the updated weights and the complete
    inner-optimiser state, so ``state_dict`` is the single-process one on every rank.

    Args:
        model, loss_fn: as for ``LocoProp``.
        broadcast_batch: send rank 0's minibatch to every rank at each step (default True).
        **options: ``LocoProp``'s other arguments. ``max_workers`` defaults to this rank's
            share of the machine's cores (the ranks on one machine share them).

    Attributes:
        owners: the rank that solves each of ``layers`` (largest layers spread first).
        communication_seconds: time spent exchanging weights so far (for benchmarks).

    Example:
        >>> import locograd as lg
        >>> from locograd import nn, distributed as dist
        >>> dist.init_process_group()                                  # doctest: +SKIP
        >>> model = nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 6))
        >>> opt = dist.DistributedLocoProp(model, nn.BCEWithLogitsLoss())   # doctest: +SKIP
        >>> loss = opt.step(lg.rand(32, 6), lg.rand(32, 6))           # doctest: +SKIP
    """

    #: the state is LocoProp's: a single-process run resumes under mpirun, and back
    state_kind = "LocoProp"

    def __init__(self, model, loss_fn, *, broadcast_batch: bool = True, **options):
        pg._require("DistributedLocoProp")
        size = pg.get_world_size()
        if options.get("max_workers") is None:
            options["max_workers"] = max(1, _available_cpus() // pg.local_world_size())
        super().__init__(model, loss_fn, **options)
        self.broadcast_batch = bool(broadcast_batch)
        self.communication_seconds = 0.0
        broadcast_module(model)
        sizes = [sum(p.data.size for p in layer.trainable_parameters()) for layer in self.layers]
        self.owners = assign_layers(sizes, size)
        self._mine = {id(layer) for layer, owner in zip(self.layers, self.owners)
                      if owner == pg.get_rank()}

    def _solve(self, group, layer, inputs, pre_activation, gradient):
        if id(layer) in self._mine:
            super()._solve(group, layer, inputs, pre_activation, gradient)

    def step(self, inputs, targets):
        """One LocoProp update on the minibatch; returns the loss before it (as ``LocoProp``)."""
        if self.broadcast_batch and pg.get_world_size() > 1:
            inputs = pg.broadcast_array(as_tensor(inputs).data)
            targets = pg.broadcast_array(as_tensor(targets).data)
        loss = super().step(inputs, targets)
        if pg.get_world_size() > 1:
            started = time.perf_counter()
            self._exchange()
            self.communication_seconds += time.perf_counter() - started
        return loss

    # ---- the exchange -----------------------------------------------------------------------

    def _owned_params(self, index: int):
        linear = self.layers[index].linear
        return [(slot, p) for slot, p in enumerate((linear.weight, linear.bias))
                if p is not None and p.requires_grad]

    def _pack(self) -> np.ndarray:
        """This rank's layers as bytes: a JSON header (which parameter, which state entries,
        their dtypes and shapes, and the scalar entries such as step counts), then the arrays,
        each starting on an 8-byte boundary."""
        entries, arrays = [], []
        rank = pg.get_rank()
        for index, owner in enumerate(self.owners):
            if owner != rank:
                continue
            for slot, p in self._owned_params(index):
                record = self.state[p]
                items = [("", p.data)] + [(key, value) for key, value in sorted(record.items())
                                          if isinstance(value, np.ndarray)]
                scalars = {}
                for key, value in record.items():
                    if isinstance(value, np.ndarray):
                        continue
                    if isinstance(value, np.generic):
                        value = value.item()
                    if not isinstance(value, (int, float, bool)):
                        raise TypeError(f"DistributedLocoProp: cannot send the inner state "
                                        f"entry {key!r} ({type(value).__name__}) of layer "
                                        f"{index}")
                    scalars[key] = value
                entries.append({"layer": index, "param": slot, "scalars": scalars,
                                "arrays": [[key, a.dtype.str, list(a.shape)]
                                           for key, a in items]})
                arrays += [a for _, a in items]
        header = json.dumps(entries).encode("utf-8")
        head = _padded(8 + len(header))
        total = head + sum(_padded(a.nbytes) for a in arrays)
        payload = np.zeros(total, dtype=np.uint8)
        payload[:8] = np.frombuffer(np.int64(len(header)).tobytes(), dtype=np.uint8)
        payload[8:8 + len(header)] = np.frombuffer(header, dtype=np.uint8)
        offset = head
        for a in arrays:
            payload[offset:offset + a.nbytes] = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
            offset += _padded(a.nbytes)
        return payload

    def _exchange(self) -> None:
        """Every rank's updated layers (weights and inner states) to every rank."""
        rank = pg.get_rank()
        for source, payload in enumerate(pg.all_gather_bytes(self._pack())):
            if source != rank:
                self._unpack(payload)

    def _unpack(self, payload: np.ndarray) -> None:
        length = int(payload[:8].view(np.int64)[0])
        entries = json.loads(payload[8:8 + length].tobytes().decode("utf-8"))
        offset = _padded(8 + length)
        for entry in entries:
            params = dict(self._owned_params(entry["layer"]))
            p = params[entry["param"]]
            record = self.state[p]
            fresh = {}
            for key, dtype, shape in entry["arrays"]:
                dtype = np.dtype(dtype)
                count = int(np.prod(shape))
                value = payload[offset:offset + count * dtype.itemsize].view(dtype).reshape(shape)
                offset += _padded(count * dtype.itemsize)
                if key == "":
                    np.copyto(p.data, value)
                    p._version[0] += 1
                    continue
                current = record.get(key)
                if isinstance(current, np.ndarray) and current.shape == value.shape \
                        and current.dtype == value.dtype:
                    np.copyto(current, value)
                    fresh[key] = current
                else:
                    fresh[key] = value.copy()
            fresh.update(entry["scalars"])
            record.clear()
            record.update(fresh)


def _padded(nbytes: int) -> int:
    return -(-nbytes // _ALIGN) * _ALIGN
