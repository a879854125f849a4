"""Numbered steps with visible progress; a failure names its step and why, then stops."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager


class StepFailed(Exception):
    def __init__(self, step: str, why: str):
        super().__init__(f"step '{step}' failed: {why}")
        self.step, self.why = step, why


class Steps:
    def __init__(self, total: int):
        self.total = total
        self.number = 0
        self.started = time.monotonic()

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.number += 1
        began = time.monotonic()
        print(f"\n==> [{self.number}/{self.total}] {title}", flush=True)
        try:
            yield
        except StepFailed:
            raise
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            raise StepFailed(title, f"{type(exc).__name__}: {exc}") from exc
        print(f"    done in {time.monotonic() - began:.1f}s", flush=True)

    def run(self, title: str, cmd: Sequence[str], env: dict[str, str] | None = None) -> None:
        """Run a command, its output indented under the step; a non-zero exit fails the step."""
        proc = subprocess.Popen(
            list(cmd), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert proc.stdout is not None
        tail: list[str] = []
        try:
            for line in proc.stdout:
                print("    " + line.rstrip(), flush=True)
                tail = [*tail[-4:], line.rstrip()]
        except BaseException:  # interrupted: the command must not outlive us
            proc.terminate()
            proc.wait()
            raise
        if proc.wait() != 0:
            last = next((t for t in reversed(tail) if t.strip()), "")
            raise StepFailed(title, f"`{' '.join(cmd[1:])}` exited with {proc.returncode}: {last}")

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def say(text: str) -> None:
    print("    " + text, flush=True)


def fail(exc: StepFailed) -> int:
    print(f"\nerror: {exc}", file=sys.stderr, flush=True)
    return 1
