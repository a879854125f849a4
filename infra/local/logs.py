"""Function logs, kept per function and invocation and printed CloudWatch-style.

Each invocation's lines (RIE's START/END/REPORT, the function's own output as it wrote it)
go to .local/logs/<function>.jsonl, and to the endpoint's CloudWatch Logs (log group from the
function's LoggingConfig, one stream per instance, as Lambda names them) where it has one, so
`aws logs tail` works against the local endpoint too.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from infra.local.instance import Invocation


class LogStore:
    def __init__(self, folder: Path, logs_client: Any | None = None):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._logs = logs_client
        self._lock = threading.Lock()
        self._streams: set[tuple[str, str]] = set()

    def add(self, function: str, log_group: str, inv: Invocation) -> None:
        entries = [
            {
                "ts": line.ts,
                "function": function,
                "group": log_group,
                "stream": inv.stream,
                "request_id": inv.request_id,
                "message": line.text,
            }
            for line in inv.lines
        ]
        with self._lock, open(self.folder / f"{function}.jsonl", "a", encoding="utf-8") as out:
            for e in entries:
                out.write(json.dumps(e, ensure_ascii=False) + "\n")
        self._to_cloudwatch(log_group, inv)

    def _to_cloudwatch(self, group: str, inv: Invocation) -> None:
        if self._logs is None or not inv.lines:
            return
        try:
            with self._lock:
                if (group, inv.stream) not in self._streams:
                    with contextlib.suppress(self._logs.exceptions.ResourceAlreadyExistsException):
                        self._logs.create_log_group(logGroupName=group)
                    self._logs.create_log_stream(logGroupName=group, logStreamName=inv.stream)
                    self._streams.add((group, inv.stream))
            self._logs.put_log_events(
                logGroupName=group,
                logStreamName=inv.stream,
                logEvents=[{"timestamp": int(x.ts * 1000), "message": x.text} for x in inv.lines],
            )
        except Exception:  # the local copy is the record; CloudWatch is a bonus
            pass


def read(
    folder: Path, function: str | None = None, request_id: str | None = None
) -> Iterator[dict]:
    for path in sorted(folder.glob("*.jsonl")):
        if function and path.stem != function:
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                entry = json.loads(line)
                if request_id is None or entry["request_id"] == request_id:
                    yield entry


def format_lines(entries: list[dict]) -> list[str]:
    """`aws logs tail`-like: a heading per log stream, then `time message`."""
    out: list[str] = []
    current = None
    for e in entries:
        where = (e["group"], e["stream"])
        if where != current:
            out.append(f"--- {e['group']}  {e['stream']}")
            current = where
        stamp = datetime.fromtimestamp(e["ts"], UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        out.append(f"{stamp} {e['message']}")
    return out
