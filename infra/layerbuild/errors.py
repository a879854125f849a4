"""One error type for everything the builder reports to the user.

Every message names the problem and the fix, so the CLI prints it as is (no traceback)."""

from __future__ import annotations


class LayerBuildError(Exception):
    """A build cannot go on; the message says why and what to do."""


class ConfigError(LayerBuildError):
    """Bad input in layers/<name>/ or on the command line."""


class BuilderUnavailable(LayerBuildError):
    """The requested builder (Docker, an image, an interpreter) is not usable here."""


class VerificationError(LayerBuildError):
    """A built layer failed a check (platform, conflicts, size, import smoke test)."""
