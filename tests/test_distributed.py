"""locograd.distributed: the API in one process (world size 1), the sampler's arithmetic, the
post-accumulate-grad hooks DDP is built on, and real two-rank runs under ``mpiexec -n 2``
(the scripts in tests/mpi_scripts/), skipped with the reason when MPI is not installed."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import locograd as lg
from locograd import distributed as dist
from locograd import nn, optim
from locograd.data import DataLoader, TensorDataset
from locograd.distributed.locoprop import assign_layers
from locograd.train import fit

SCRIPTS = os.path.join(os.path.dirname(__file__), "mpi_scripts")
HAS_MPI4PY = importlib.util.find_spec("mpi4py") is not None
needs_mpi4py = pytest.mark.skipif(not HAS_MPI4PY, reason="mpi4py is not installed "
                                  "(pip install mpi4py mpich): MPI tests skipped")


def _mpiexec() -> str | None:
    """The mpiexec beside this Python (the mpich wheel's), else one on the PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("mpiexec")


def run_mpi(arguments: list[str], timeout: float = 120.0) -> subprocess.CompletedProcess:
    """``mpiexec -n 2 python ARGUMENTS``, one BLAS thread per rank (two ranks on two cores,
    and bit-for-bit comparisons need the same thread count in both runs)."""
    if not HAS_MPI4PY:
        pytest.skip("mpi4py is not installed (pip install mpi4py mpich): MPI tests skipped")
    mpiexec = _mpiexec()
    if mpiexec is None:
        pytest.skip("no mpiexec found (pip install mpich provides one): MPI tests skipped")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               HYDRA_LAUNCHER="fork", PYTHONUNBUFFERED="1")
    try:
        return subprocess.run([mpiexec, "-n", "2", sys.executable, *arguments], env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"mpiexec -n 2 {' '.join(arguments)} did not finish within {timeout} s "
                    f"(a hang). Output:\n{error.stdout}\n{error.stderr}")


@pytest.fixture
def group():
    """A process group of one (this pytest process), left again after the test."""
    if not HAS_MPI4PY:
        pytest.skip("mpi4py is not installed (pip install mpi4py mpich)")
    dist.init_process_group()
    yield dist
    dist.destroy_process_group()


# ---------------------------------------------------------------------------- without MPI

def test_importing_locograd_distributed_does_not_import_mpi4py():
    code = ("import sys, locograd as lg; lg.distributed.DistributedSampler; "
            "print('mpi4py' in sys.modules, lg.distributed.is_initialized())")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def test_missing_mpi4py_names_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # makes `from mpi4py import MPI` fail
    with pytest.raises(ImportError, match=r"pip install mpi4py mpich"):
        dist.init_process_group()
    assert not dist.is_initialized()


def test_queries_before_init_raise_a_clear_error():
    for query in (dist.get_rank, dist.get_world_size, dist.barrier):
        with pytest.raises(RuntimeError, match="init_process_group"):
            query()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.DistributedDataParallel(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="backend must be 'mpi'"):
        dist.init_process_group("nccl")


def test_launched_by_mpi_reads_the_launcher_environment(monkeypatch):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert not dist.launched_by_mpi()
    monkeypatch.setenv("PMI_SIZE", "1")
    assert not dist.launched_by_mpi()  # mpirun -n 1 is a single process
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert dist.launched_by_mpi()


# ---------------------------------------------------------------------------- the sampler

@pytest.mark.parametrize("length, ranks, drop_last", [(10, 3, False), (10, 3, True),
                                                      (12, 4, False), (2, 3, False)])
def test_sampler_shards_cover_the_dataset_once_per_epoch(length, ranks, drop_last):
    for epoch in (0, 1):
        shards = []
        for rank in range(ranks):
            sampler = dist.DistributedSampler(range(length), num_replicas=ranks, rank=rank,
                                              seed=7, drop_last=drop_last)
            sampler.set_epoch(epoch)
            shards.append(list(sampler))
            assert len(shards[-1]) == len(sampler)
        sizes = {len(shard) for shard in shards}
        assert len(sizes) == 1, f"unequal shards {shards}"
        counts = np.bincount(np.concatenate(shards).astype(int), minlength=length)
        if drop_last:
            assert sizes == {length // ranks} and counts.max() == 1
        else:
            assert sizes == {-(-length // ranks)} and counts.min() >= 1
            padding = sizes.pop() * ranks - length
            assert counts.sum() - length == padding  # only the padding repeats


def test_sampler_reshuffles_per_epoch_from_the_shared_seed():
    def order(epoch, seed=0, rank=0):
        sampler = dist.DistributedSampler(range(50), num_replicas=2, rank=rank, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(0) == order(0)                      # every rank computes the same permutation
    assert order(0) != order(1) and order(0) != order(0, seed=1)
    assert sorted(order(3) + order(3, rank=1)) == list(range(50))
    unshuffled = dist.DistributedSampler(range(7), num_replicas=2, rank=1, shuffle=False)
    assert list(unshuffled) == [1, 3, 5, 0]          # 0..6 padded with 0


def test_sampler_validates_its_arguments():
    with pytest.raises(ValueError, match=r"invalid rank 2, rank should be in the interval"):
        dist.DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be a positive integer"):
        dist.DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.DistributedSampler(range(4))  # no group to ask for the world size


def test_sampler_drives_a_dataloader_and_fit_sets_its_epoch():
    x = lg.arange(20, dtype=lg.float32).reshape(10, 2)
    y = lg.zeros(10, dtype=lg.int64)
    dataset = TensorDataset(x, y)
    sampler = dist.DistributedSampler(dataset, num_replicas=2, rank=1, seed=3)
    loader = DataLoader(dataset, batch_size=2, sampler=sampler)
    rows = np.concatenate([inputs.numpy()[:, 0] / 2 for inputs, _ in loader]).astype(int)
    assert rows.tolist() == list(sampler)
    model = nn.Linear(2, 2)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), loader, epochs=3,
        progress=False)
    assert sampler.epoch == 2  # fit called set_epoch(epoch - 1) before each epoch


# ---------------------------------------------------------------------------- post-accumulate hooks

def test_post_accumulate_grad_hook_runs_after_accumulation_only_in_backward():
    w = lg.ones(2, requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    gradient_hook = w.register_hook(lambda g: g * 10)  # runs before, changes what accumulates
    (w * 3).sum().backward()
    (w * 2).sum().backward()
    assert seen == [[30.0, 30.0], [50.0, 50.0]]
    lg.grad((w * 5).sum(), w)                 # grad() accumulates nothing: no call
    (w * 1).sum().backward(inputs=[w])        # backward(inputs=...) accumulates: a call
    assert seen == [[30.0, 30.0], [50.0, 50.0], [60.0, 60.0]]
    handle.remove()
    gradient_hook.remove()
    (w * 1).sum().backward()
    assert len(seen) == 3 and w.grad.tolist() == [61.0, 61.0]
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)


# ---------------------------------------------------------------------------- a group of one

def _mlp(seed=0):
    lg.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))


def test_group_of_one(group):
    assert group.is_initialized() and group.get_rank() == 0 and group.get_world_size() == 1
    group.barrier()
    values = np.arange(3.0)
    group.all_reduce(values, group.ReduceOp.AVG)
    group.broadcast(values, 0)
    assert values.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(RuntimeError, match="already initialised"):
        group.init_process_group()
    with pytest.raises(ValueError, match="op must be one of"):
        group.all_reduce(values, "product")
    with pytest.raises(ValueError, match="C-contiguous"):
        group.all_reduce(np.zeros((3, 3))[:, 0])
    assert len(dist.DistributedSampler(range(5))) == 5


def test_ddp_in_a_group_of_one_matches_the_plain_model(group):
    plain, wrapped = _mlp(), group.DistributedDataParallel(_mlp(), bucket_cap_mb=1e-5)
    assert len(wrapped._buckets) == 4  # tiny cap: one parameter per bucket
    x = lg.randn(6, 3)
    plain(x).square().sum().backward()
    out = wrapped(x)
    assert np.array_equal(out.data, plain(x).data)
    out.square().sum().backward()
    for p, q in zip(plain.parameters(), wrapped.module.parameters()):
        assert np.array_equal(p.grad.data, q.grad.data)
    with wrapped.no_sync():
        assert not wrapped.require_backward_grad_sync
    assert wrapped.require_backward_grad_sync


def test_ddp_buckets_respect_the_cap_and_dtypes(group):
    model = nn.Sequential(nn.Linear(100, 100), nn.Linear(100, 4))  # 40,400 and 404 bytes
    model[1].double()
    buckets = group.DistributedDataParallel(model, bucket_cap_mb=0.02)._buckets
    kinds = sorted((bucket.buffer.dtype.name, bucket.names) for bucket in buckets)
    assert kinds == [("float32", ["0.bias"]), ("float32", ["0.weight"]),
                     ("float64", ["1.bias", "1.weight"])]


def test_ddp_state_dict_has_no_module_prefix(group):
    wrapped = group.DistributedDataParallel(_mlp())
    state = wrapped.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    plain = _mlp(seed=1)
    plain.load_state_dict(state)  # a distributed run's checkpoint loads into the plain model
    assert np.array_equal(plain[0].weight.data, wrapped.module[0].weight.data)
    other = group.DistributedDataParallel(_mlp(seed=2))
    other.load_state_dict({"module." + k: v for k, v in state.items()})  # PyTorch's prefix
    assert np.array_equal(other.module[2].bias.data, wrapped.module[2].bias.data)
    assert next(wrapped.named_parameters())[0] == "module.0.weight"


class PartlyUsed(nn.Module):
    def __init__(self):
        super().__init__()
        self.used, self.unused = nn.Linear(2, 2), nn.Linear(2, 2)

    def forward(self, x):
        return self.used(x)


def test_ddp_names_parameters_left_without_gradient(group):
    wrapped = group.DistributedDataParallel(PartlyUsed())  # one bucket for all four
    wrapped(lg.ones(1, 2)).sum().backward()
    with pytest.raises(RuntimeError, match=r"gave no gradient to unused\.(weight|bias), "
                                           r"unused\.(weight|bias)"):
        wrapped(lg.ones(1, 2))


def test_register_kfac_checks_its_argument(group):
    model = _mlp()
    wrapped = group.DistributedDataParallel(model)
    with pytest.raises(TypeError, match="expected a KFAC optimizer"):
        wrapped.register_kfac(optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="outside the wrapped module"):
        wrapped.register_kfac(optim.KFAC(_mlp(), likelihood="categorical"))


def test_distributed_locoprop_in_a_group_of_one_is_locoprop(group):
    from locograd.locoprop import LocoProp
    x = lg.rand(16, 3)
    plain_model, model = _mlp(), _mlp()
    plain = LocoProp(plain_model, nn.MSELoss(), inner_steps=3, inner_lr=1e-2)
    trainer = group.DistributedLocoProp(model, nn.MSELoss(), inner_steps=3, inner_lr=1e-2)
    target = lg.rand(16, 2)
    assert [plain.step(x, target) for _ in range(2)] == [trainer.step(x, target)
                                                         for _ in range(2)]
    assert trainer.owners == [0, 0]
    for p, q in zip(plain_model.parameters(), model.parameters()):
        assert np.array_equal(p.data, q.data)


def test_assign_layers_balances_the_largest_first():
    assert assign_layers([100, 10, 60, 50], 2) == [0, 0, 1, 1]  # loads 110 and 110
    assert assign_layers([5, 5, 5], 3) == [0, 1, 2]
    assert assign_layers([7], 2) == [0]


# ---------------------------------------------------------------------------- two ranks

def _result(completed) -> dict:
    assert completed.returncode == 0, completed.stdout + completed.stderr
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, completed.stdout + completed.stderr
    return json.loads(lines[0][len("RESULT "):])


@pytest.fixture(scope="module")
def equivalence():
    return _result(run_mpi([os.path.join(SCRIPTS, "equivalence.py")]))


@pytest.mark.parametrize("name", ["sgd", "adam", "shampoo", "kfac", "accumulate"])
def test_two_ranks_of_batch_b_equal_one_process_of_batch_2b(equivalence, name):
    result = equivalence[name]
    assert result["identical"], f"{name}: the ranks' parameters differ"
    assert result["relative_difference"] < 1e-6, result
    assert result["buckets"] == 4


def test_kfac_statistics_must_be_averaged(equivalence):
    # Without register_kfac each rank's factors come from its own shard, so the steps differ
    # from the whole batch's (and between the ranks): the registration makes K-FAC exact.
    result = equivalence["kfac-unregistered"]
    assert result["relative_difference"] > 1e-6 and not result["identical"], result


def test_sampler_covers_the_dataset_once_per_epoch_across_ranks(equivalence):
    failed = [case for case, ok in equivalence["sampler"].items() if not ok]
    assert not failed, f"sampler cases failing under mpiexec -n 2: {failed}"


def test_distributed_locoprop_equals_single_process_bit_for_bit(equivalence):
    result = equivalence["locoprop"]
    assert result == {"weights": True, "state": True, "losses": True,
                      "owners": [0, 1, 0, 1]}, result


def test_fit_under_mpiexec(tmp_path):
    completed = run_mpi([os.path.join(SCRIPTS, "fit_ddp.py"), str(tmp_path)])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    epoch_lines = [line for line in completed.stdout.splitlines() if line.startswith("epoch")]
    assert [line.split()[1] for line in epoch_lines] == ["1", "2", "3"], completed.stdout
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]  # the same weights and history on both ranks
    assert ranks[0]["history"][-1]["train_loss"] < ranks[0]["history"][0]["train_loss"]
    checkpoint = lg.train.load_checkpoint(str(tmp_path))
    assert checkpoint["epoch"] == 3
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    model.load_state_dict(checkpoint["model"])  # no 'module.' prefix
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.data, ranks[0]["weights"][key], err_msg=key)
    assert (tmp_path / "history.csv").read_text().count("\n") == 4


def test_locograd_train_command_under_mpiexec(tmp_path):
    out = tmp_path / "run"
    completed = run_mpi(["-m", "locograd", "train", "--model", "mlp", "--data", "digits",
                         "--epochs", "1", "--limit", "200", "--out", str(out)])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.count("training mlp") == 1, completed.stdout  # rank 0 only
    assert "batch size 64 over 2 ranks" in completed.stdout
    assert completed.stdout.count("test accuracy") == 1
    assert (out / "checkpoint.safetensors").exists() and (out / "history.csv").exists()


def test_a_failing_rank_brings_the_job_down(tmp_path):
    completed = run_mpi([os.path.join(SCRIPTS, "fail_rank.py")], timeout=60)
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output
    assert "ValueError: rank one failed on purpose" in output
    assert "rank 1 of 2 raised ValueError; aborting the job" in output
    assert "passed the barrier" not in output


def test_sys_exit_on_one_rank_brings_the_job_down():
    completed = run_mpi([os.path.join(SCRIPTS, "fail_rank.py"), "exit"], timeout=60)
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0, output
    assert "rank 1 of 2 called sys.exit(3); aborting the job (MPI_Abort)" in output
    assert "passed the barrier" not in output
