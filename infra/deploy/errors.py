"""The one error type the CLI turns into a message: what went wrong, and the next step."""

from __future__ import annotations


class DeployError(Exception):
    """A problem the user can fix; `next_step` says how."""

    def __init__(self, message: str, next_step: str = ""):
        super().__init__(message)
        self.message = message
        self.next_step = next_step

    def __str__(self) -> str:
        return f"{self.message}\n  next: {self.next_step}" if self.next_step else self.message
