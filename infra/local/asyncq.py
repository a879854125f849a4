"""Asynchronous invocation as Lambda does it for S3 events: a queue per function, retries on
function errors (timeouts included) up to MaximumRetryAttempts, events older than
MaximumEventAgeInSeconds dropped, then the on-failure destination (or dead-letter queue).

Lambda waits about 1 and then 2 minutes between attempts; locally the waits are
`retry_delay` × 1 and × 2 seconds (LOCAL_RETRY_DELAY_SECONDS, default 1), so that a failing
event reaches its destination in seconds. Every attempt of one event has the same request ID,
as on Lambda.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.local.clients import Clients
from infra.local.discover import Function
from infra.local.instance import Invocation


@dataclass
class AsyncEvent:
    function: str
    payload: dict
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    received: float = field(default_factory=time.time)
    attempts: list[Invocation] = field(default_factory=list)
    outcome: str = "pending"  # pending | success | failed | expired
    destination: str | None = None  # where a failure was sent
    done: threading.Event = field(default_factory=threading.Event, repr=False)


Invoke = Callable[[str, bytes, str], Invocation]


class AsyncInvoker:
    def __init__(
        self,
        invoke: Invoke,
        functions: Callable[[str], Function | None],
        clients: Clients,
        retry_delay: float = 1.0,
        workers: Callable[[str], int] = lambda _: 1,
        say: Callable[[str], None] = print,
    ):
        self._invoke = invoke
        self._functions = functions
        self._clients = clients
        self.retry_delay = retry_delay
        self._workers = workers
        self._say = say
        self._queues: dict[str, queue.Queue] = {}
        self._workers_of: dict[str, int] = {}  # worker threads started per queue
        self._lock = threading.Condition()
        self._pending = 0
        self._closed = False
        self.events: list[AsyncEvent] = []

    def submit(self, function: str, payload: dict) -> AsyncEvent:
        ev = AsyncEvent(function, payload)
        with self._lock:
            self.events.append(ev)
            self._pending += 1
            q = self._queues.get(function)
            if q is None:
                q = self._queues[function] = queue.Queue()
                self._workers_of[function] = self._workers(function)
                for i in range(self._workers_of[function]):
                    t = threading.Thread(
                        target=self._work, args=(q,), daemon=True, name=f"async-{function}-{i}"
                    )
                    t.start()
        q.put(ev)
        return ev

    def wait_idle(self, timeout: float) -> bool:
        """True when every submitted event has reached its outcome."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending == 0, timeout)

    def stop(self) -> None:
        with self._lock:
            self._closed = True
            queues = [(q, self._workers_of[name]) for name, q in self._queues.items()]
        # One stop marker per worker thread of the queue, so that every idle worker wakes and
        # ends; a busy one ends after its attempt (it sees _closed).
        for q, workers in queues:
            for _ in range(workers):
                q.put(None)

    def _work(self, q: queue.Queue) -> None:
        while True:
            ev = q.get()
            if ev is None or self._closed:
                return
            try:
                self._attempt(ev, q)
            except Exception as exc:  # a broken delivery must not stop the queue
                self._say(f"[local-lambda] {ev.function}: delivery failed: {exc}")
                self._finish(ev, "failed")

    def _attempt(self, ev: AsyncEvent, q: queue.Queue) -> None:
        fn = self._functions(ev.function)
        if fn is None:
            self._say(f"[local-lambda] {ev.function}: no such function deployed; event dropped")
            self._finish(ev, "failed")
            return
        cfg = fn.invoke_config
        if time.time() - ev.received > cfg.maximum_event_age_seconds:
            self._fail(ev, fn, "EventAgeExceeded")
            return
        inv = self._invoke(ev.function, json.dumps(ev.payload).encode(), ev.request_id)
        ev.attempts.append(inv)
        if not inv.failed:
            self._send(fn, cfg.on_success, self._record(ev, fn, "Success"))
            self._finish(ev, "success")
            return
        retries_done = len(ev.attempts) - 1
        if retries_done >= cfg.maximum_retry_attempts:
            self._fail(ev, fn, "RetriesExhausted")
            return
        delay = self.retry_delay * (retries_done + 1)
        timer = threading.Timer(delay, q.put, args=(ev,))
        timer.daemon = True
        timer.start()

    def _fail(self, ev: AsyncEvent, fn: Function, condition: str) -> None:
        cfg = fn.invoke_config
        if cfg.on_failure:
            self._send(fn, cfg.on_failure, self._record(ev, fn, condition))
            ev.destination = cfg.on_failure
        elif fn.dead_letter_arn:
            self._dead_letter(ev, fn)
            ev.destination = fn.dead_letter_arn
        self._finish(ev, "expired" if condition == "EventAgeExceeded" else "failed")

    def _finish(self, ev: AsyncEvent, outcome: str) -> None:
        ev.outcome = outcome
        ev.done.set()
        with self._lock:
            self._pending -= 1
            self._lock.notify_all()

    @staticmethod
    def _record(ev: AsyncEvent, fn: Function, condition: str) -> dict:
        """Lambda's destination record (the on-failure/on-success invocation record)."""
        rec: dict[str, Any] = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "requestContext": {
                "requestId": ev.request_id,
                "functionArn": f"{fn.arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": len(ev.attempts),
            },
            "requestPayload": ev.payload,
        }
        if ev.attempts:
            last = ev.attempts[-1]
            context = {"statusCode": 200, "executedVersion": "$LATEST"}
            if last.failed:
                context["functionError"] = "Unhandled"
            rec["responseContext"] = context
            try:
                rec["responsePayload"] = json.loads(last.payload) if last.payload else None
            except ValueError:
                rec["responsePayload"] = last.payload.decode("utf-8", "replace")
        return rec

    def _send(self, fn: Function, arn: str | None, record: dict) -> None:
        if not arn:
            return
        body = json.dumps(record)
        service = arn.split(":")[2]
        if service == "sqs":
            self._clients.sqs.send_message(
                QueueUrl=_queue_url(self._clients.sqs, arn), MessageBody=body
            )
        elif service == "sns":
            self._clients.sns.publish(TopicArn=arn, Message=body)
        elif service == "lambda":
            self.submit(arn.split(":function:", 1)[1].split(":")[0], record)
        else:
            self._say(f"[local-lambda] {fn.name}: destination {arn} is not supported locally")

    def _dead_letter(self, ev: AsyncEvent, fn: Function) -> None:
        """A dead-letter queue gets the event itself, the error in message attributes."""
        last = ev.attempts[-1] if ev.attempts else None
        error = (last.error or {}) if last else {}
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": ev.request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {
                "DataType": "String",
                "StringValue": str(error.get("errorMessage", "error"))[:1000],
            },
        }
        arn, body = fn.dead_letter_arn or "", json.dumps(ev.payload)
        if arn.split(":")[2] == "sqs":
            self._clients.sqs.send_message(
                QueueUrl=_queue_url(self._clients.sqs, arn),
                MessageBody=body,
                MessageAttributes=attributes,
            )
        else:
            self._clients.sns.publish(TopicArn=arn, Message=body, MessageAttributes=attributes)


def _queue_url(sqs: Any, arn: str) -> str:
    parts = arn.split(":")
    return sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
