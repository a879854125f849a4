"""The local Lambda service's pools on a redeploy, with instances that block on demand (no RIE
needed: what is under test is which pool a request ends up on, not the runtime)."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from infra.local.instance import Invocation
from infra.local.logs import LogStore
from infra.local.pool import Pool, PoolRetired
from infra.local.service import LocalLambdaService, Served

ENDPOINT = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # never reached: no client call is made
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_REGION": "us-east-1",
}


class FakeInstance:
    """Answers with its deployment's name once `release` is set."""

    def __init__(self, deployment: str, release: threading.Event, started: threading.Event):
        self.deployment, self.release, self.started = deployment, release, started
        self.alive, self.stopped = True, False

    def invoke(self, payload: bytes, request_id: str | None = None) -> Invocation:
        self.started.set()
        assert self.release.wait(10), "the test never released the instance"
        inv = Invocation(request_id or "rid", payload=self.deployment.encode() + b":" + payload)
        return inv

    def stop(self) -> None:
        self.alive, self.stopped = False, True


def _served(deployment: str, release: threading.Event, started: threading.Event, made: list):
    def factory() -> FakeInstance:
        made.append(FakeInstance(deployment, release, started))
        return made[-1]

    fn = SimpleNamespace(log_group=f"/aws/lambda/{deployment}")
    return Served(fn, None, None, Pool(factory, 1))  # type: ignore[arg-type]


def _wait_until(predicate, what: str) -> None:
    done = threading.Event()
    for _ in range(500):
        if predicate():
            return
        done.wait(0.01)
    pytest.fail(what)


def test_a_redeploy_moves_waiting_requests_to_the_new_pool(tmp_path: Path):
    service = LocalLambdaService(ENDPOINT, tmp_path, say=lambda _: None)
    service.logs = LogStore(tmp_path / "logs")
    old_go, old_started, old_made = threading.Event(), threading.Event(), []
    new_go, new_started, new_made = threading.Event(), threading.Event(), []
    old = _served("old", old_go, old_started, old_made)
    service.served["fn"] = old
    results: dict[str, object] = {}

    def call(label: str) -> None:
        try:
            results[label] = service._invoke("fn", label.encode(), None).payload
        except Exception as exc:  # recorded: the assertion says what went wrong
            results[label] = exc

    in_flight = threading.Thread(target=call, args=("in-flight",))
    in_flight.start()
    assert old_started.wait(10)
    waiting = threading.Thread(target=call, args=("waiting",))
    waiting.start()
    _wait_until(lambda: old.pool._cond._waiters, "the second request never queued")  # type: ignore[attr-defined]

    service._replace("fn", _served("new", new_go, new_started, new_made))
    assert new_started.wait(10), f"the waiting request did not move: {results}"
    new_go.set()
    waiting.join(10)
    old_go.set()  # the in-flight request finishes on the old code, after the redeploy
    in_flight.join(10)

    assert results == {"in-flight": b"old:in-flight", "waiting": b"new:waiting"}
    assert old_made[0].stopped, "the retired instance kept running after its request"
    assert service._retired == [old.pool]


def test_a_request_waiting_for_a_removed_function_says_it_is_gone(tmp_path: Path):
    service = LocalLambdaService(ENDPOINT, tmp_path, say=lambda _: None)
    service.logs = LogStore(tmp_path / "logs")
    go, started, made = threading.Event(), threading.Event(), []
    old = _served("old", go, started, made)
    service.served["fn"] = old
    errors: list[Exception] = []
    first = threading.Thread(target=service._invoke, args=("fn", b"a", None))
    first.start()
    assert started.wait(10)

    def second() -> None:
        try:
            service._invoke("fn", b"b", None)
        except LookupError as exc:
            errors.append(exc)

    waiting = threading.Thread(target=second)
    waiting.start()
    _wait_until(lambda: old.pool._cond._waiters, "the second request never queued")  # type: ignore[attr-defined]
    service._replace("fn", None)
    waiting.join(10)
    go.set()
    first.join(10)
    assert [str(e) for e in errors] == ["function fn is not deployed (or could not be served)"]


def test_a_retired_pool_refuses_new_requests_as_retired_and_a_stopped_one_as_stopped():
    retired, stopped = Pool(lambda: None, 1), Pool(lambda: None, 1)  # type: ignore[arg-type,return-value]
    retired.retire()
    stopped.stop()
    with pytest.raises(PoolRetired):
        retired.invoke(b"{}")
    with pytest.raises(RuntimeError, match="stopped") as info:
        stopped.invoke(b"{}")
    assert not isinstance(info.value, PoolRetired)  # a stopping service does not loop


def _two_busy(release: threading.Event, made: list) -> tuple[Pool, list[threading.Thread]]:
    """A pool resized to two, with two requests running on two instances until `release`."""
    pool = _served("fn", release, threading.Event(), made).pool
    pool.resize(2)
    runs = [threading.Thread(target=pool.invoke, args=(b"x",)) for _ in range(2)]
    for t in runs:
        t.start()
    _wait_until(lambda: len(made) == 2, "two instances were not started")
    return pool, runs


def test_a_lowered_limit_holds_from_the_next_request_on():
    # Two instances warmed by two concurrent requests; after resize(1) one request at a time
    # runs, on one instance: the idle extra stops now, a busy extra when its request ends.
    release, made = threading.Event(), []
    pool, first = _two_busy(release, made)
    release.set()
    for t in first:
        t.join(5)
    pool.resize(1)
    assert sum(not i.stopped for i in made) == 1  # the idle extra stopped at once

    busy, release2 = [], threading.Event()
    for inst in made:
        inst.release = release2
    runs = [threading.Thread(target=lambda: busy.append(pool.invoke(b"y"))) for _ in range(3)]
    for t in runs:
        t.start()
    _wait_until(lambda: any(i.started.is_set() for i in made), "nothing ran")
    assert len(made) == 2  # no new instance: the limit is one
    release2.set()
    for t in runs:
        t.join(5)
    assert len(busy) == 3 and sum(not i.stopped for i in made) == 1


def test_a_busy_extra_instance_stops_when_its_request_ends():
    release, made = threading.Event(), []
    pool, runs = _two_busy(release, made)
    pool.resize(1)  # both are busy: neither stops yet
    assert not any(i.stopped for i in made)
    release.set()
    for t in runs:
        t.join(5)
    assert sum(i.stopped for i in made) == 1  # one released to the idle list, one stopped
