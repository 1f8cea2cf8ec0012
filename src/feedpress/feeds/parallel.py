"""Spreading per-post work over processes, when there is enough of it to pay for them.

Two shapes of work, two helpers:

- `pmap` sends each item to a worker: for work whose input is small (a
  post file's path) and whose workers should start before the build has
  grown large, so that they begin small.
- `Shared` forks workers that already hold a (large) state, and sends them
  only indexes into it: for work on the posts and feeds the build has
  assembled, which would cost more to send than to make.

Results always come back in order and as they are ready, for the caller to
store and drop: memory stays flat however many posts there are. Nothing
here knows what a post is: any picklable work will do.
"""

from __future__ import annotations

import ctypes
import gc
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:  # imported when a pool starts: a build with little to do never needs them
    from concurrent.futures import ProcessPoolExecutor

PARALLEL_FROM = 200  # fewer tasks than this are not worth starting processes for

T = TypeVar("T")
S = TypeVar("S")
R = TypeVar("R")

_STATE: Any = None  # a worker's copy of its pool's `Shared` state


def pmap(func: Callable[[T], R], items: Sequence[T], jobs: int) -> Iterator[R]:
    """`map` over `jobs` processes, or in this one when there is little to do."""
    if not _worth_processes(jobs, len(items)):
        yield from (func(item) for item in items)
        return
    with _pool(jobs, initializer=_start_worker, initargs=(os.getpid(),)) as pool:
        yield from pool.map(func, items, chunksize=_chunk(len(items), jobs))


class Shared(Generic[S]):
    """Workers that hold `state`; tasks name what to work on by its index in it.

    With the fork start method the state is inherited, not sent; with spawn
    it is pickled once per worker. The pool starts on the first `map` that
    has enough tasks, and ends with the `with` block.
    """

    def __init__(self, state: S, jobs: int) -> None:
        self.state = state
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Shared[S]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def map(self, func: Callable[[S, int], R], count: int, *,
            units: int | None = None) -> Iterator[R]:
        """`func(state, i)` for each i in range(count), in order.

        The workers start on the tasks at once, while the caller goes on;
        in this process (too little work for processes) each task runs as
        its result is asked for. `units` is how much work the tasks hold in
        all, when each holds several posts (default: one per task): it
        decides whether the work is worth processes.
        """
        if not _worth_processes(self.jobs, count if units is None else units):
            return (func(self.state, i) for i in range(count))
        pool = self._pool or self._start()
        calls = [(func, i) for i in range(count)]
        return pool.map(_call, calls, chunksize=_chunk(count, self.jobs))

    def _start(self) -> ProcessPoolExecutor:
        # Frozen objects are out of the workers' garbage collections, which would
        # otherwise write to every inherited object and so copy every page of it.
        gc.freeze()
        try:
            self._pool = _pool(self.jobs, initializer=_adopt,
                               initargs=(self.state, os.getpid()))
            self._pool.submit(int).result()  # the first task starts every worker
        finally:
            gc.unfreeze()
        return self._pool


def _adopt(state: object, parent: int) -> None:
    """A worker's start: keep the state, and collect its own garbage (the parent may have
    paused the collector; what it inherited is frozen, out of the collector's way)."""
    global _STATE
    _STATE = state
    _start_worker(parent)


def _start_worker(parent: int) -> None:
    """Collect garbage, and end with the build: a build killed outright (`kill -9`) has no
    chance to stop its workers, which would live on, blocked on a pipe nobody reads."""
    gc.enable()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # Linux: killed when the parent dies
    except (OSError, AttributeError):
        return  # elsewhere, the pool's own watch on its parent is all there is
    if os.getppid() != parent:  # it died before the line above took
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _call(task: tuple[Callable[[Any, int], R], int]) -> R:
    func, index = task
    return func(_STATE, index)


def _pool(jobs: int, **options: Any) -> ProcessPoolExecutor:
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_all_start_methods, get_context

    context = get_context("fork" if "fork" in get_all_start_methods() else "spawn")
    return ProcessPoolExecutor(jobs, mp_context=context, **options)


def _worth_processes(jobs: int, units: int) -> bool:
    return jobs > 1 and units >= PARALLEL_FROM


def _chunk(count: int, jobs: int) -> int:
    """Big enough to spare round trips, small enough to keep every worker busy to the end
    (a 16th of a worker's share: a 64th cost more in round trips than it saved at the
    ends of stages)."""
    return max(1, min(64, count // (jobs * 16)))
