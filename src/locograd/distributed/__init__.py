"""``locograd.distributed``: training on several processes over MPI (``torch.distributed``'s
names).

Start the same script on N ranks with ``mpirun -n N python train.py`` (the ``mpich`` wheel
brings ``mpiexec``); without ``mpirun`` it runs as a group of one. MPI comes through mpi4py,
imported by ``init_process_group`` only: ``import locograd.distributed`` works without it.

* ``process_group``: ``init_process_group``, ``get_rank``, ``get_world_size``, ``barrier``,
  ``all_reduce``, ``broadcast``; an exception on one rank aborts the whole job.
* ``ddp``: ``DistributedDataParallel``, gradients averaged over the ranks in flat buckets.
* ``sampler``: ``DistributedSampler``, each rank's shard, reshuffled every epoch.
* ``locoprop``: ``DistributedLocoProp``, LocoProp's layers solved on different ranks.

Example (every rank runs this)::

    from locograd import distributed as dist, nn, optim
    from locograd.data import DataLoader
    dist.init_process_group()
    model = dist.DistributedDataParallel(build_model())
    sampler = dist.DistributedSampler(train_set, seed=0)
    loader = DataLoader(train_set, batch_size=64, sampler=sampler)   # 64 per rank
    fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()), loader, epochs=5)
"""
from .ddp import DistributedDataParallel, broadcast_module
from .locoprop import DistributedLocoProp
from .process_group import (INSTALL_HINT, ReduceOp, all_reduce, barrier, broadcast,
                            destroy_process_group, get_rank, get_world_size, init_process_group,
                            is_available, is_initialized, launched_by_mpi)
from .sampler import DistributedSampler

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "is_available",
           "get_rank", "get_world_size", "barrier", "all_reduce", "broadcast", "ReduceOp",
           "launched_by_mpi", "INSTALL_HINT", "DistributedDataParallel", "broadcast_module",
           "DistributedSampler", "DistributedLocoProp"]
