"""Run under ``mpiexec -n 2`` by tests/test_distributed.py: rank 1 raises (or, given ``exit``,
calls ``sys.exit(3)``) while rank 0 waits in a collective; the job must end (not hang) with rank
1's error shown."""
import sys

from locograd import distributed as dist

dist.init_process_group()
if dist.get_rank() == 1:
    if sys.argv[1:] == ["exit"]:
        sys.exit(3)
    raise ValueError("rank one failed on purpose")
dist.barrier()  # without the abort, rank 0 would wait here forever
print("rank 0 passed the barrier")
