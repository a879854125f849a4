"""The local Lambda service: deployed functions served by pools of RIE instances, fed by S3
events from the buckets whose deployed notification names them.

    with LocalLambdaService(endpoint.env(), state_dir) as service:  # reads what is deployed
        ... upload objects with any S3 client ...        # (and again on every redeploy)
        service.wait_idle(timeout=120)         # every event delivered, retried or dead-lettered
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.deploy.config import EnvReader
from infra.local import discover as disco
from infra.local import s3events
from infra.local.asyncq import AsyncEvent, AsyncInvoker
from infra.local.clients import Clients
from infra.local.discover import Deployment, Function
from infra.local.instance import Instance, Invocation
from infra.local.layout import Layout, materialise
from infra.local.logs import LogStore
from infra.local.pool import Pool, PoolRetired
from infra.local.rie import ensure_rie
from infra.local.runtime import Runtime, resolve

STACK_CHECK_SECONDS = 2.0


@dataclass
class Served:
    fn: Function
    layout: Layout
    runtime: Runtime
    pool: Pool


# Without the launcher's journal (infra/moto_server.py), a poll lists every version under the
# watched prefixes (S3 has no "changed since"), so it costs more as a bucket fills: after a
# listing that took t seconds the poller waits at least LISTING_SHARE * t, so it never takes
# more than ~1/(1 + LISTING_SHARE) of moto's time (a 1,000-object backfill: moto's CPU was a
# quarter listings); events then arrive a little later.
LISTING_SHARE = 9


def poll_pause(poll_seconds: float, listed_seconds: float) -> float:
    return max(poll_seconds, LISTING_SHARE * listed_seconds)


class LocalLambdaService:
    def __init__(
        self,
        endpoint_env: dict[str, str],
        state: Path,
        *,
        concurrency: int | None = None,
        retry_delay: float | None = None,
        poll_seconds: float = 0.25,
        run_dir: Path | None = None,
        say: Callable[[str], None] = print,
    ):
        self.endpoint_env = dict(endpoint_env)
        self.state = state
        self.muted: set[str] = set()  # functions whose S3 notifications are not delivered
        env = EnvReader(os.environ)
        self.concurrency = (
            concurrency
            or env.integer("LOCAL_LAMBDA_CONCURRENCY", 0, 0, 1000)
            or max(2, os.cpu_count() or 2)
        )
        delay = (
            retry_delay
            if retry_delay is not None
            else env.seconds("LOCAL_RETRY_DELAY_SECONDS", 1.0, 0.0, 600.0)
        )
        self.poll_seconds = poll_seconds
        self.say = say
        self.clients = Clients.from_env(self.endpoint_env)
        # state: caches reused across runs (runtime, layouts); run_dir: this run's logs and pids.
        self.run_dir = run_dir or state
        self.logs = LogStore(self.run_dir / "logs", self.clients.logs)
        self.served: dict[str, Served] = {}
        self.deployment = Deployment({}, (), ())
        self.problems: list[str] = []
        self._watcher = s3events.BucketWatcher(
            self.clients.s3, s3events.Journal(self.endpoint_env["AWS_ENDPOINT_URL"])
        )
        self._async = AsyncInvoker(
            self._invoke, self._function, self.clients, delay, workers=self._limit, say=say
        )
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._polls = 0
        self._poll_done = threading.Condition()
        self._runtimes: dict[tuple[str, str], Runtime] = {}
        self._retired: list[Pool] = []  # replaced by a redeploy; busy instances still finishing

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> LocalLambdaService:
        self.refresh()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="local-lambda")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self._async.stop()
        with self._lock:
            for pool in [*(s.pool for s in self.served.values()), *self._retired]:
                pool.stop()
            self.served.clear()
            self._retired.clear()

    def __enter__(self) -> LocalLambdaService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what is deployed --------------------------------------------------------------------
    def refresh(self) -> Deployment:
        """Read the deployed stacks again; start serving new or changed functions."""
        with self._lock:
            dep = disco.discover(self.clients.cfn, self.clients.lam)
            problems = list(dep.problems)
            for name, fn in dep.functions.items():
                current = self.served.get(name)
                if current and current.fn.fingerprint == fn.fingerprint:
                    current.fn = fn  # invoke config or concurrency may have changed
                    current.pool.resize(self._limit_of(fn))
                    continue
                try:
                    served = self._serve(fn)
                except Exception as exc:  # reported; other functions still run
                    problems.append(f"function {name}: cannot be served: {exc}")
                    continue
                self._replace(name, served)
                layers = ", ".join(layer.key.split("/")[1] for layer in fn.layers) or "no layers"
                self.say(
                    f"[local-lambda] serving {name} ({fn.runtime}, {fn.memory} MB, "
                    f"{fn.timeout} s, {layers}; up to {served.pool.limit} instances)"
                )
            for name in set(self.served) - set(dep.functions):
                self._replace(name, None)
            buckets = {n.bucket for n in dep.notifications}
            for bucket in buckets:
                self._watcher.watch(
                    bucket, (n.prefix for n in dep.notifications if n.bucket == bucket)
                )
            self._watcher.unwatch_except(buckets)
            for p in problems:
                if p not in self.problems:
                    self.say(f"[local-lambda] warning: {p}")
            self.problems = problems
            self.deployment = dep
            return dep

    def _replace(self, name: str, served: Served | None) -> None:
        """Serve `name` from `served` (None: no longer deployed) and retire the old pool. The
        new pool is in place first, so that requests still waiting in the old one's queue
        move to it (see _invoke); only in-flight requests finish on the old instances."""
        with self._lock:
            old = self.served.get(name)
            if served is None:
                self.served.pop(name, None)
            else:
                self.served[name] = served  # one assignment: no moment without a pool
            if old is not None:
                old.pool.retire()
                self._retired.append(old.pool)

    def _serve(self, fn: Function) -> Served:
        key = (fn.runtime, fn.arch)
        if key not in self._runtimes:
            self._runtimes[key] = resolve(fn.runtime, fn.arch, self.state)
        runtime = self._runtimes[key]
        rie = ensure_rie(fn.arch)
        layout = materialise(fn, self.clients.s3, self.state / "layout")
        debug = self.run_dir / "rie" / f"{fn.name}.log"
        debug.parent.mkdir(parents=True, exist_ok=True)

        def factory() -> Instance:
            current = self.served[fn.name].fn if fn.name in self.served else fn
            for attempt in range(3):
                try:
                    return Instance(
                        current,
                        layout,
                        runtime,
                        rie,
                        self.endpoint_env,
                        debug,
                        self.run_dir / "pids",
                    )
                except RuntimeError:
                    # A free port can be taken between choosing it and RIE binding it.
                    if attempt == 2:
                        raise
            raise AssertionError("unreachable")

        return Served(fn, layout, runtime, Pool(factory, self._limit_of(fn)))

    def _limit_of(self, fn: Function) -> int:
        if fn.reserved_concurrency:
            return min(fn.reserved_concurrency, self.concurrency)
        return self.concurrency

    def _limit(self, name: str) -> int:
        served = self.served.get(name)
        return served.pool.limit if served else self.concurrency

    def _function(self, name: str) -> Function | None:
        served = self.served.get(name)
        return served.fn if served else None

    # -- invoking ----------------------------------------------------------------------------
    def invoke(self, name: str, payload: dict | bytes) -> Invocation:
        """A synchronous (RequestResponse) invocation."""
        import json

        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self._invoke(name, body, None)

    def invoke_async(self, name: str, event: dict) -> AsyncEvent:
        """An asynchronous (Event) invocation: retries and destinations apply."""
        return self._async.submit(name, event)

    def _invoke(self, name: str, body: bytes, request_id: str | None) -> Invocation:
        while True:
            served = self.served.get(name)
            if served is None:
                raise LookupError(f"function {name} is not deployed (or could not be served)")
            try:
                inv = served.pool.invoke(body, request_id)
            except PoolRetired:
                continue  # it had not started: the redeploy's pool (or LookupError) takes it
            self.logs.add(name, served.fn.log_group, inv)
            return inv

    @property
    def events(self) -> list[AsyncEvent]:
        return list(self._async.events)

    def wait_idle(self, timeout: float = 300) -> bool:
        """True once the buckets were polled after this call and every event is finished."""
        deadline = time.monotonic() + timeout
        with self._poll_done:
            target = self._polls + 2  # a poll that started after this call has completed
            if not self._poll_done.wait_for(lambda: self._polls >= target, timeout):
                return False
        return self._async.wait_idle(max(0.0, deadline - time.monotonic()))

    # -- the loop ----------------------------------------------------------------------------
    def _loop(self) -> None:
        versions = self.deployment.stacks
        checked = time.monotonic()
        while not self._stop.is_set():
            try:
                if time.monotonic() - checked > STACK_CHECK_SECONDS:
                    checked = time.monotonic()
                    now = disco.stack_versions(self.clients.cfn)
                    if now != versions:
                        versions = self.refresh().stacks
                listed = time.monotonic()
                found = self._watcher.poll()
                listed = time.monotonic() - listed
                for ev in found:
                    self.dispatch(ev)
                if self._watcher.lost:
                    self.say(f"[local-lambda] warning: {self._watcher.lost} S3 events were "
                             "dropped by the endpoint's journal before they were read")  # fmt: skip
                    self._watcher.lost = 0
            except Exception as exc:  # the endpoint may be going away; keep trying
                listed = 0.0
                if not self._stop.is_set():
                    self.say(f"[local-lambda] warning: {exc}")
            with self._poll_done:
                self._polls += 1
                self._poll_done.notify_all()
            self._stop.wait(poll_pause(self.poll_seconds, listed))

    def dispatch(self, ev: s3events.ObjectEvent) -> list[AsyncEvent]:
        """Send an object event to every function whose notification matches it (except the
        `muted` ones: a benchmark measures one function without another taking the cores)."""
        sent = []
        for n in self.deployment.notifications:
            if n.function in self.muted:
                continue
            if n.bucket == ev.bucket and n.matches(ev.event_name, ev.key):
                rec = s3events.record(ev, self.clients.region)
                sent.append(self.invoke_async(n.function, s3events.event([rec])))
        return sent
