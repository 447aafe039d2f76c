"""Worker processes of ``DataLoader(num_workers > 0)``.

The main process sends ``(batch_index, indices, epoch_seed)`` tasks round-robin to the
workers' index queues, at most ``prefetch_factor`` per worker in flight, and takes the results
from one shared data queue, putting them back in order. Care is taken that nothing hangs:

* a worker pickles its result itself, so an unpicklable batch becomes an error message rather
  than a result lost in the queue's feeder thread;
* an exception while fetching travels back as an ``ExceptionWrapper`` and is raised again in
  the main process with the same type, the original message and the worker's traceback;
* the main process waits on the data queue in short slices and checks that the workers are
  alive, so a worker that dies (crash, ``os._exit``, OOM killer) raises a ``RuntimeError``;
* workers ignore SIGINT (the main process gets the ``KeyboardInterrupt`` and stops them), and
  leave on their own when the main process has gone;
* shutting down (end of epoch, ``break``, error, ``KeyboardInterrupt``, garbage collection)
  tells the workers to stop, joins them, terminates those that do not stop in time and joins
  again, so no zombie is left behind.
"""
from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import queue
import random
import signal
import sys
import time
import traceback

import numpy as np

from .. import backend
from ._fetch import fetch_in_scope, make_fetcher
from .dataloader import _BaseDataLoaderIterator

__all__ = ["WorkerInfo", "get_worker_info", "ExceptionWrapper", "MultiProcessIterator"]

_STATUS_CHECK_INTERVAL = 0.5  # seconds between liveness checks while waiting on a queue
_SHUTDOWN_TIMEOUT = 5.0  # seconds the workers get to stop before they are terminated

_worker_info = None


class WorkerInfo:
    """What a worker knows about itself: ``id``, ``num_workers``, ``seed`` and ``dataset``."""

    def __init__(self, id: int, num_workers: int, seed: int, dataset):  # noqa: A002
        self.id = id
        self.num_workers = num_workers
        self.seed = seed
        self.dataset = dataset

    def __repr__(self):
        return f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed})"


def get_worker_info() -> WorkerInfo | None:
    """The current worker's ``WorkerInfo`` inside a ``DataLoader`` worker process, else ``None``.

    Example:
        >>> get_worker_info() is None  # in the main process
        True
    """
    return _worker_info


class _KeyErrorMessage(str):
    """KeyError's str() is the repr of its argument; keep the traceback's newlines readable."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception caught in a worker, carried to the main process and raised there again."""

    def __init__(self, where: str):
        exc_type, exc, tb = sys.exc_info()
        self.type_name = exc_type.__name__
        self.text = "".join(traceback.format_exception(exc_type, exc, tb))
        self.where = where
        try:  # the class must be importable in the main process to be raised there
            pickle.dumps(exc_type)
            self.exc_type = exc_type
        except Exception:
            self.exc_type = None

    def reraise(self):
        message = f"Caught {self.type_name} {self.where}.\nOriginal {self.text}"
        if self.exc_type is KeyError:
            message = _KeyErrorMessage(message)
        try:
            exception = self.exc_type(message) if self.exc_type is not None else None
        except Exception:  # an exception class whose constructor wants other arguments
            exception = None
        if exception is None:
            raise RuntimeError(message)
        raise exception


def _describe_indices(indices) -> str:
    """The dataset indices of a batch, for an error message (the first few of a long one)."""
    if indices is None:  # an iterable dataset: no index
        return "from the dataset's iterator"
    if not isinstance(indices, (list, tuple)):
        return f"dataset index {indices!r}"
    shown = ", ".join(repr(i) for i in indices[:8])
    more = f", ... ({len(indices)} in all)" if len(indices) > 8 else ""
    return f"dataset indices [{shown}{more}]"


class _IterationEnd:
    """A worker's iterable dataset is exhausted."""

    def __init__(self, worker_id: int):
        self.worker_id = worker_id


class _Resume:
    """Start a new epoch (persistent workers); the worker answers with the same object."""

    def __init__(self, worker_id: int):
        self.worker_id = worker_id


def _worker_loop(fetcher_args, init_fn, index_queue, data_queue, done_event, seed, worker_id,
                 num_workers):
    """The body of a worker process: take tasks, fetch, send results, until told to stop."""
    global _worker_info
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    dataset, is_iterable = fetcher_args[0], fetcher_args[1]
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    backend.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # NumPy's legacy global state: PyTorch leaves it unseeded

    init_error, fetcher = None, None
    try:
        if init_fn is not None:
            init_fn(worker_id)
        fetcher = make_fetcher(*fetcher_args)
    except Exception:
        init_error = ExceptionWrapper(f"in DataLoader worker process {worker_id} while starting")
    exhausted = False
    while True:
        try:
            task = index_queue.get(timeout=_STATUS_CHECK_INTERVAL)
        except queue.Empty:
            if os.getppid() != parent:  # the main process is gone: nobody will read
                break
            continue
        if task is None or done_event.is_set():
            break
        if isinstance(task, _Resume):
            if is_iterable and init_error is None:
                try:
                    fetcher, exhausted = make_fetcher(*fetcher_args), False
                except Exception:
                    init_error = ExceptionWrapper(f"in DataLoader worker process {worker_id} "
                                                  f"while restarting the dataset's iterator")
            data_queue.put((None, pickle.dumps(task)))
            continue
        batch_index, indices, epoch_seed = task
        if init_error is not None:
            result = init_error
        elif exhausted:
            result = _IterationEnd(worker_id)
        else:
            try:
                result = fetch_in_scope(fetcher.fetch, indices, epoch_seed, batch_index)
            except StopIteration:
                result, exhausted = _IterationEnd(worker_id), is_iterable
            except Exception:
                result = ExceptionWrapper(f"in DataLoader worker process {worker_id} while "
                                          f"fetching batch {batch_index} "
                                          f"({_describe_indices(indices)})")
        try:
            payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            payload = pickle.dumps(ExceptionWrapper(
                f"in DataLoader worker process {worker_id} while sending batch {batch_index} "
                f"to the main process (the batch must be picklable)"))
        del result
        data_queue.put((batch_index, payload))
    if done_event.is_set():
        # The main process will not read any more: exit without flushing the queue's pipe.
        data_queue.cancel_join_thread()
        data_queue.close()


class MultiProcessIterator(_BaseDataLoaderIterator):
    """One epoch (or, with persistent workers, every epoch) of batches loaded by workers."""

    def __init__(self, loader):
        context = loader.multiprocessing_context
        if context is None or isinstance(context, str):
            context = multiprocessing.get_context(context)
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor * loader.num_workers
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        self.is_shut_down = False
        self._workers, self._index_queues = [], []
        self._data_queue = context.Queue()
        self._done_event = context.Event()
        # The first epoch's seed is drawn exactly as with num_workers=0, so that both give the
        # same batches; the workers' own seeds derive from it (PyTorch: base_seed + worker_id).
        self._seed = worker_seed = loader._draw_seed()
        fetcher_args = (loader.dataset, loader.is_iterable, loader.auto_collation,
                        loader.collate_fn, loader.batch_size, loader.drop_last)
        try:
            for worker_id in range(self._num_workers):
                index_queue = context.Queue()
                index_queue.cancel_join_thread()
                worker = context.Process(
                    target=_worker_loop, daemon=True,
                    args=(fetcher_args, loader.worker_init_fn, index_queue, self._data_queue,
                          self._done_event, worker_seed + worker_id, worker_id,
                          self._num_workers))
                worker.start()
                self._index_queues.append(index_queue)
                self._workers.append(worker)
            # inside: a sampler whose __iter__ raises must not leave the started workers behind
            self.reset(loader, first=True)
        except BaseException:
            self._shutdown_workers()
            raise

    def reset(self, loader, first: bool = False):
        """Start an epoch: new seed, new indices; persistent workers drop the old epoch first."""
        if not first:
            self._seed = loader._draw_seed()
        self._indices = loader._index_iter()
        self._set_length(loader)
        self._send_index = self._received_index = self._outstanding = 0
        self._task_info = {}
        self._active = [True] * self._num_workers
        self._worker_cycle = itertools.cycle(range(self._num_workers))
        if not first:
            try:
                for worker_id, index_queue in enumerate(self._index_queues):
                    index_queue.put(_Resume(worker_id))
                acknowledged = 0
                while acknowledged < self._num_workers:  # an abandoned epoch's results: dropped
                    _, data = self._get_data()
                    acknowledged += isinstance(data, _Resume)
            except BaseException:
                self._shutdown_workers()
                raise
        for _ in range(self._prefetch):
            self._put_task()

    def _put_task(self):
        if self._outstanding >= self._prefetch:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._worker_cycle)
            if self._active[worker_id]:
                break
        else:
            return
        try:
            indices = next(self._indices)
        except StopIteration:
            return
        self._index_queues[worker_id].put((self._send_index, indices, self._seed))
        self._task_info[self._send_index] = (worker_id,)
        self._outstanding += 1
        self._send_index += 1

    def _get_data(self):
        """The next ``(batch_index, result)`` from any worker, checking on the workers."""
        start = time.monotonic()
        while True:
            try:
                batch_index, payload = self._data_queue.get(timeout=_STATUS_CHECK_INTERVAL)
                break
            except queue.Empty:
                dead = [w for w in self._workers if not w.is_alive()]
                if dead:
                    codes = ", ".join(f"pid {w.pid} exit code {w.exitcode}" for w in dead)
                    raise RuntimeError(f"DataLoader worker(s) exited unexpectedly ({codes})")
                if self._timeout and time.monotonic() - start > self._timeout:
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds "
                                       f"waiting for a batch from the workers")
        try:
            return batch_index, pickle.loads(payload)
        except Exception as error:
            raise RuntimeError(f"DataLoader: could not unpickle batch {batch_index} sent by a "
                               f"worker ({type(error).__name__}: {error})") from None

    def __next__(self):
        try:
            return self._next_data()
        except StopIteration:
            if not self._persistent:
                self._shutdown_workers()
            raise
        except BaseException:  # a worker's error, a dead worker, KeyboardInterrupt
            self._shutdown_workers()
            raise

    def _next_data(self):
        while True:
            while self._received_index < self._send_index:
                info = self._task_info[self._received_index]
                if len(info) == 2 or self._active[info[0]]:
                    break
                del self._task_info[self._received_index]  # its worker's stream had ended
                self._received_index += 1
            else:
                raise StopIteration
            info = self._task_info[self._received_index]
            if len(info) == 2:
                del self._task_info[self._received_index]
                return self._process(info[1])
            batch_index, data = self._get_data()
            self._outstanding -= 1
            if isinstance(data, _IterationEnd):
                # Later tasks of this worker are skipped by the loop above; its earlier
                # results (a worker answers in order) have all arrived already.
                self._active[data.worker_id] = False
                self._put_task()
                continue
            if batch_index != self._received_index:
                self._task_info[batch_index] += (data,)
                continue
            del self._task_info[batch_index]
            return self._process(data)

    def _process(self, data):
        self._received_index += 1
        self._put_task()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return data

    def _shutdown_workers(self):
        if self.is_shut_down:
            return
        self.is_shut_down = True
        self._done_event.set()
        for index_queue in self._index_queues:
            try:
                index_queue.put(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + _SHUTDOWN_TIMEOUT
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        for worker in self._workers:
            if worker.is_alive():
                worker.terminate()
                worker.join(_SHUTDOWN_TIMEOUT)
            if worker.is_alive():
                worker.kill()
                worker.join()
        for index_queue in self._index_queues:
            index_queue.cancel_join_thread()
            index_queue.close()
        self._data_queue.cancel_join_thread()
        self._data_queue.close()

    def shutdown(self):
        """Stop the workers now (also done at the end of the epoch and on garbage collection)."""
        self._shutdown_workers()

    def __del__(self):
        try:
            self._shutdown_workers()
        except Exception:  # half-built iterator, or the interpreter is shutting down
            pass
