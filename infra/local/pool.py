"""Instances of one function: up to `limit` at once, warm ones reused, requests queued beyond
the limit (as Lambda scales to its concurrency limit and then throttles async work to a queue).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from infra.local.instance import Instance, Invocation


class PoolRetired(RuntimeError):
    """The pool was retired by a redeploy while a request waited for an instance: the request
    has not started, so the caller sends it to the new deployment's pool (as Lambda runs
    queued events on the new version; only in-flight ones finish on the old code)."""


class Pool:
    def __init__(self, factory: Callable[[], Instance], limit: int):
        self._factory = factory
        self.limit = max(1, limit)
        self._idle: list[Instance] = []
        self._all: list[Instance] = []
        self._cond = threading.Condition()
        self._closed = False
        self._retired = False

    def invoke(self, payload: bytes, request_id: str | None = None) -> Invocation:
        instance = self._acquire()
        try:
            return instance.invoke(payload, request_id)
        finally:
            self._release(instance)

    def _acquire(self) -> Instance:
        with self._cond:
            while True:
                if self._retired:
                    raise PoolRetired("the function was redeployed; run this on its new pool")
                if self._closed:
                    raise RuntimeError("the function's instances are stopped")
                while self._idle:
                    instance = self._idle.pop()  # the most recently used: the warmest
                    if instance.alive:
                        return instance
                    self._all.remove(instance)
                if len(self._all) < self.limit:
                    self._all.append(None)  # type: ignore[arg-type]  # a slot being started
                    break
                self._cond.wait()
        try:
            instance = self._factory()
        except BaseException:
            with self._cond:
                self._all.remove(None)  # type: ignore[arg-type]
                self._cond.notify()
            raise
        with self._cond:
            self._all[self._all.index(None)] = instance  # type: ignore[arg-type]
        return instance

    def resize(self, limit: int) -> None:
        """A new concurrency limit. Idle instances beyond it stop now, busy ones when their
        request ends: a lowered limit holds from the next request on (the fan-out bench
        measures with one instance after two)."""
        with self._cond:
            self.limit = max(1, limit)
            while len(self._all) > self.limit and self._idle:
                extra = self._idle.pop(0)  # the least recently used
                self._all.remove(extra)
                extra.stop()
            self._cond.notify_all()

    def _release(self, instance: Instance) -> None:
        with self._cond:
            if instance.alive and not self._closed and len(self._all) <= self.limit:
                self._idle.append(instance)
            else:
                instance.stop()
                if instance in self._all:
                    self._all.remove(instance)
            self._cond.notify()

    def retire(self) -> None:
        """No new requests; idle instances stop now, busy ones when their request ends (a
        redeploy: in-flight invocations finish on the old code, as on Lambda)."""
        with self._cond:
            self._closed = self._retired = True
            idle, self._idle = self._idle, []
            for instance in idle:
                self._all.remove(instance)
            self._cond.notify_all()
        for instance in idle:
            instance.stop()

    def stop(self) -> None:
        with self._cond:
            self._closed = True
            instances = [i for i in self._all if i is not None]
            self._cond.notify_all()
        for instance in instances:
            instance.stop()
