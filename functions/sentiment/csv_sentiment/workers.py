"""Scoring across vCPUs: worker processes fed through pipes.

Lambda has no /dev/shm, so `multiprocessing.Pool` and `Queue` fail there; `Process` + `Pipe`
works. Each worker scores whole batches with its own engine; the main process keeps reading,
parsing and writing meanwhile. A reader thread per worker drains its results as soon as they
arrive, so a worker never blocks on a full pipe while the main process is sending it the
next batch (that would deadlock both).
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import queue
import threading
from collections.abc import Sequence

from csv_sentiment.engine import BatchScorer, Scorer, Scores, load_engine
from csv_sentiment.errors import TransientError

FULL_VCPU_MB = 1769  # Lambda gives one vCPU per 1,769 MB of memory
MAX_LAMBDA_VCPUS = 6


def lambda_vcpus(memory_mb: int) -> int:
    """The vCPUs Lambda gives a function of this memory size (`make deploy` asks too)."""
    return max(1, min(MAX_LAMBDA_VCPUS, math.ceil(memory_mb / FULL_VCPU_MB)))


def auto_workers(environ=os.environ) -> int:
    """The vCPUs the function's memory size gives (Lambda sets the memory in the env)."""
    cpus = os.cpu_count() or 1
    memory = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    if not memory or not memory.isdigit():
        return cpus
    return min(cpus, lambda_vcpus(int(memory)))


class _Done:
    def __init__(self, value: list[Scores]):
        self._value = value

    def result(self) -> list[Scores]:
        return self._value


class InProcess:
    """No workers: score in the calling process (the default, and right below 2 vCPUs)."""

    workers = 0

    def __init__(self, scorer: Scorer):
        self.scorer = scorer
        self.name = scorer.name

    def submit(self, texts: Sequence[str]) -> _Done:
        return _Done(self.scorer.score(texts))

    def healthy(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _serve(conn, engine_name: str, inherited: list) -> None:
    """Worker loop: a batch of texts in, their scores (or the error) out, until EOF."""
    # A forked child holds copies of the parent's pipe ends (its own and earlier workers'):
    # close them, or no worker would ever see EOF when the parent closes its end.
    for other in inherited:
        other.close()
    scorer = load_engine(engine_name)
    while True:
        try:
            texts = conn.recv()
        except EOFError:
            return
        if texts is None:  # the pool is closing
            return
        try:
            conn.send(("ok", scorer.score(texts)))
        except Exception as exc:  # reported to the main process, which raises it
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Worker:
    def __init__(self, ctx, engine_name: str, index: int, others: list):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_serve,
            args=(child, engine_name, [*others, self.conn]),
            name=f"scorer-{index}",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.results: queue.Queue = queue.Queue()
        self.reader: threading.Thread | None = None

    def start_reader(self) -> None:
        if self.reader is None:
            self.reader = threading.Thread(target=self._drain, name="scorer-reader", daemon=True)
            self.reader.start()

    def _drain(self) -> None:
        while True:
            try:
                self.results.put(self.conn.recv())
            except (EOFError, OSError):
                self.results.put(("died", None))
                return


class _Pending:
    def __init__(self, worker: _Worker):
        self._worker = worker

    def result(self) -> list[Scores]:
        status, value = self._worker.results.get()
        if status == "ok":
            return value
        if status == "died":
            code = self._worker.process.exitcode
            raise TransientError(
                f"a scoring worker process exited (exit code {code})",
                expected="enough memory for SCORING_WORKERS processes; Lambda retries the event",
            )
        raise RuntimeError(f"scoring worker failed: {value}")


class ProcessPool:
    """`n` worker processes, fed round-robin; results come back in submission order."""

    def __init__(self, engine_name: str, n: int):
        # fork: workers inherit the loaded modules (copy-on-write). Created at cold start,
        # before any thread exists, so forking is safe.
        ctx = multiprocessing.get_context("fork")
        self.name = engine_name
        self.workers = n
        self._pool: list[_Worker] = []
        for i in range(n):
            self._pool.append(_Worker(ctx, engine_name, i, [w.conn for w in self._pool]))
        self._next = 0

    def submit(self, texts: Sequence[str]) -> _Pending:
        worker = self._pool[self._next]
        self._next = (self._next + 1) % len(self._pool)
        worker.start_reader()
        try:
            worker.conn.send(list(texts))
        except (BrokenPipeError, OSError) as exc:
            raise TransientError(
                f"a scoring worker process is gone ({exc})",
                expected="enough memory for SCORING_WORKERS processes; Lambda retries the event",
            ) from None
        return _Pending(worker)

    def healthy(self) -> bool:
        return all(w.process.is_alive() for w in self._pool)

    def close(self) -> None:
        # Ask each worker to stop (closing our end is not enough while a reader thread is
        # blocked in recv on it), then reap them so nothing is left behind.
        for w in self._pool:
            with contextlib.suppress(OSError):
                w.conn.send(None)
        for w in self._pool:
            w.process.join(timeout=5)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.conn.close()


def make_scorer(engine_name: str, workers: int) -> BatchScorer:
    """In-process for one worker, else a pool of `workers` processes."""
    if workers <= 1:
        return InProcess(load_engine(engine_name))
    return ProcessPool(engine_name, workers)
