"""Bytecode compiled by the target Python, so cold starts do not compile (Lambda's /opt is
read-only: without shipped .pyc every cold start compiles every imported module again).

`unchecked-hash` .pyc files are used without comparing the source's mtime: the zip fixes all
timestamps to 1980, so timestamp-based .pyc would be stale on arrival and ignored. The source
paths recorded in the code objects are rewritten to /opt/python/... (what Lambda sees), which
also keeps them independent of the build folder, so the bytes are reproducible.
"""

from __future__ import annotations

from pathlib import Path

LAMBDA_OPT = "/opt"


def compile_command(python: str, layer_root: str) -> list[str]:
    """compileall for the layer folder `layer_root` (which holds python/)."""
    return [
        python,
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        "-s",
        layer_root,
        "-p",
        LAMBDA_OPT,
        f"{layer_root}/python",
    ]


def count_bytecode(site: Path) -> int:
    return sum(1 for _ in site.rglob("*.pyc"))
