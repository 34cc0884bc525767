"""Executors: run independent tasks (seed-method runs, proposal evaluations) in parallel.

Every executor has one method, ``map(fn, items)``, returning ``fn(item)`` for each item in input
order. ``fn`` must be a picklable module-level function and each call independent of the others.
A map may say what each task needs (`TaskResources`: CPU threads, GPUs); Ray schedules by it, local
workers run one task each (a task sets its own torch threads). ``with executor.session():`` keeps one
Ray instance up across several maps (a search evaluating batch after batch).

- ``local`` (default): a pool of spawned local processes, one torch thread each. A task whose
  worker process dies (killed, out of memory) is run again, up to ``max_retries`` times; a task that
  raises is not (a bad dataset, missing data or a config mismatch fails the same way every time),
  and the map stops with `TaskFailed` at once, stopping the other workers (their runs resume later).
  SIGTERM of the parent interrupts the map the same way; workers exit on their own when the parent
  dies without stopping them (SIGKILL).
- ``ray``: each item is one Ray task (``pip install crlso[ray]``) with ``max_retries`` on worker
  death and on exceptions. It joins a running cluster when given ``address``, otherwise starts a
  local Ray instance with ``workers`` CPUs and shuts it down afterwards. On a multi-node cluster
  every node must see the same file system (run folders, data and model caches).

Run tasks written for these executors are idempotent: `crlso.experiments.run.run_experiment` resumes a
killed run from its own ``queries.jsonl``, so a retried task ends with the same result.
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from crlso.errors import ConfigError, MissingDependency, TaskFailed

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "TaskFailed", "TaskResources", "create_executor", "list_executors"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class TaskResources:
    """What one task needs: ``num_cpus`` (its torch threads) and ``num_gpus`` (a fraction shares a GPU).

    Ray reserves them per task; the local executor runs one task per worker process and leaves the
    threads to the task (GPUs: every local worker sees the machine's devices).
    """

    num_cpus: float = 1.0
    num_gpus: float = 0.0

    def __post_init__(self) -> None:
        if not self.num_cpus > 0 or not self.num_gpus >= 0:
            raise ConfigError(f"a task needs num_cpus > 0 and num_gpus >= 0, got {self.num_cpus}, {self.num_gpus}")


class Executor(ABC):
    """Runs ``fn`` over items in parallel; results come back in input order."""

    name: str = ""

    def __init__(self, *, workers: int | None = None, max_retries: int = 3):
        if workers is not None and workers < 1:
            raise ConfigError(f"workers must be >= 1, got {workers}")
        if max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {max_retries}")
        self.workers = workers or os.cpu_count() or 1
        self.max_retries = max_retries

    @abstractmethod
    def map(self, fn: Callable[[T], R], items: Sequence[T], *, desc: str = "tasks", progress: bool = True,
            resources: TaskResources | None = None) -> list[R]:
        """``[fn(item) for item in items]``, computed in parallel, each task given ``resources``.

        Raises:
            TaskFailed: a task failed ``max_retries + 1`` times (its last error is the cause).
        """

    @contextlib.contextmanager
    def session(self) -> Iterator["Executor"]:
        """Keep the executor's backend up while the block runs (maps inside it share it)."""
        yield self

    def describe(self) -> dict[str, Any]:
        """Name and size, as run folders record them."""
        return {"name": self.name, "workers": self.workers}


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


# Seconds between a pool worker's checks that its parent is alive.
PARENT_POLL_SECONDS = 1.0


def _exit_with_parent(parent: int, poll: float = PARENT_POLL_SECONDS) -> None:
    """Exit this process (code 1) as soon as its parent ``parent`` is gone (killed, or ended by SIGTERM).

    A pool worker blocked on its task queue would otherwise wait forever for a parent that died
    without closing the pool (SIGKILL, or SIGTERM's default action).
    """
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _pool_worker_init(parent: int) -> None:
    _exit_with_parent(parent)
    _worker_init()


class LocalExecutor(Executor):
    """A pool of ``workers`` spawned local processes; dead or failing tasks are retried.

    Each ``map`` starts its own pool, unless it runs inside ``session()``: the session's pool then
    serves every map (a search's rounds pay the workers' start-up once) and is replaced when a worker dies.
    """

    name = "local"

    def __init__(self, *, workers: int | None = None, max_retries: int = 3):
        super().__init__(workers=workers, max_retries=max_retries)
        self._pool: Any = None

    def _new_pool(self, workers: int) -> Any:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_pool_worker_init, initargs=(os.getpid(),))

    @contextlib.contextmanager
    def session(self) -> Iterator["Executor"]:
        if self._pool is not None:  # nested: the outer session owns the pool
            yield self
            return
        self._pool = self._new_pool(self.workers)
        try:
            yield self
        finally:
            pool, self._pool = self._pool, None
            if pool is not None:
                pool.shutdown(wait=True)

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, desc: str = "tasks", progress: bool = True,
            resources: TaskResources | None = None) -> list[R]:
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        from tqdm import tqdm

        results: dict[int, R] = {}
        attempts = dict.fromkeys(range(len(items)), 0)
        with tqdm(total=len(items), desc=desc, disable=not progress) as bar, _sigterm_interrupts():
            while len(results) < len(items):
                pending = [i for i in range(len(items)) if i not in results]
                shared = self._pool is not None
                # a fresh pool per round (or a fresh session pool): a killed worker breaks the whole pool
                pool = self._pool if shared else self._new_pool(min(self.workers, len(pending)))
                broken = False
                try:
                    with _stopped_on_error(pool, keep=shared):
                        futures = {pool.submit(fn, items[i]): i for i in pending}
                        for future in as_completed(futures):
                            i = futures[future]
                            try:
                                results[i] = future.result()
                                bar.update()
                            except BrokenProcessPool as exc:  # a worker died: the task resumes in a fresh pool
                                broken = True
                                attempts[i] += 1
                                if attempts[i] > self.max_retries:
                                    raise TaskFailed(f"task {i} ({desc}): its worker died {attempts[i]} times; "
                                                     f"last error: {exc!r}") from exc
                            except Exception as exc:  # the task raised: it would raise again, so no retry
                                raise TaskFailed(f"task {i} ({desc}) failed (not retried: only worker deaths are): "
                                                 f"{type(exc).__name__}: {exc}") from exc
                except BaseException:
                    if shared:
                        self._pool = None  # stopped by _stopped_on_error; the session ends without it
                    raise
                if broken and shared:
                    pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._new_pool(self.workers)
        return [results[i] for i in range(len(items))]


@contextlib.contextmanager
def _stopped_on_error(pool: Any, *, keep: bool = False) -> Iterator[None]:
    """Shut ``pool`` down when the block ends (unless ``keep``: a session's pool outlives the map); on an
    error or interrupt, first stop its workers at once (their runs resume from their logs) instead of
    waiting for the tasks still running."""
    try:
        yield
    except BaseException:
        workers = list((getattr(pool, "_processes", None) or {}).values())  # shutdown forgets them
        for process in workers:
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        if not keep:
            pool.shutdown(wait=True)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """In the main thread, turn SIGTERM into KeyboardInterrupt while the block runs, so that a
    terminated parent stops its workers (and the CLI exits with its one-line message)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt("SIGTERM")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingDependency("the ray executor needs Ray: pip install 'crlso[ray]' (or pip install 'ray>=2.9')") from None
    return ray


def _ray_call(fn: Callable[[Any], Any], item: Any) -> Any:
    _worker_init()
    return fn(item)


class RayExecutor(Executor):
    """One Ray task per item (1 CPU each unless `TaskResources` say otherwise), retried on worker death or exception.

    Args:
        address: a running cluster to join (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``);
            None starts a local instance with ``workers`` CPUs for the duration of each ``map``.
        workers: CPUs of the local instance (ignored when joining a cluster).
        max_retries: retries per task.
    """

    name = "ray"

    def __init__(self, *, address: str | None = None, workers: int | None = None, max_retries: int = 3):
        super().__init__(workers=workers, max_retries=max_retries)
        self.address = address

    def _start(self, ray: Any) -> bool:
        """Connect or start Ray; True when this call started it (and must shut it down)."""
        if ray.is_initialized():
            return False
        if self.address:
            ray.init(address=self.address, logging_level="WARNING", log_to_driver=False)
        else:
            ray.init(num_cpus=self.workers, include_dashboard=False, logging_level="WARNING",
                     log_to_driver=False, object_store_memory=100 * 1024 * 1024)
        return True

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "address": self.address}

    @contextlib.contextmanager
    def session(self) -> Iterator["Executor"]:
        ray = _import_ray()
        started = self._start(ray)
        try:
            yield self
        finally:
            if started:
                ray.shutdown()

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, desc: str = "tasks", progress: bool = True,
            resources: TaskResources | None = None) -> list[R]:
        from tqdm import tqdm

        ray = _import_ray()
        started = self._start(ray)
        need = resources or TaskResources()
        try:
            remote = ray.remote(num_cpus=need.num_cpus, num_gpus=need.num_gpus, max_retries=self.max_retries,
                                retry_exceptions=True)(_ray_call)
            fn_ref = ray.put(fn)
            refs = [remote.remote(fn_ref, item) for item in items]
            index = {ref: i for i, ref in enumerate(refs)}
            results: dict[int, R] = {}
            waiting = list(refs)
            with tqdm(total=len(refs), desc=desc, disable=not progress) as bar:
                while waiting:
                    done, waiting = ray.wait(waiting, num_returns=1)
                    for ref in done:
                        try:
                            results[index[ref]] = ray.get(ref)
                        except Exception as exc:  # noqa: BLE001 - Ray already retried it
                            for other in waiting:
                                ray.cancel(other, force=True)
                            raise TaskFailed(f"task {index[ref]} ({desc}) failed after {self.max_retries} retries: {exc}") from exc
                        bar.update()
            return [results[i] for i in range(len(items))]
        finally:
            if started:
                ray.shutdown()


_EXECUTORS: dict[str, type[Executor]] = {"local": LocalExecutor, "ray": RayExecutor}


def list_executors() -> list[str]:
    """Names accepted by `create_executor`."""
    return sorted(_EXECUTORS)


def create_executor(name: str = "local", *, workers: int | None = None, address: str | None = None,
                    max_retries: int = 3) -> Executor:
    """An executor by name (``local`` or ``ray``).

    Raises:
        ValueError: unknown name, or ``address`` given for the local executor.
        ImportError: ``ray`` chosen but not installed (names ``pip install crlso[ray]``).
    """
    if name not in _EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}; valid: {', '.join(list_executors())}")
    if name == "ray":
        _import_ray()  # fail before any work starts
        return RayExecutor(address=address, workers=workers, max_retries=max_retries)
    if address:
        raise ConfigError("--address joins a Ray cluster; it needs --executor ray")
    return LocalExecutor(workers=workers, max_retries=max_retries)
