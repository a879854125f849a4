"""Lay out a deployed function as Lambda does: the function zip as the task root (/var/task),
its layers extracted in order into one /opt (a later layer overwrites an earlier one's files).

The zips are read from the artifact bucket the deployed template names, not the working tree,
so what runs is what was deployed. Layouts are content-addressed and reused.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.discover import Function


@dataclass(frozen=True)
class Layout:
    root: Path
    task: Path  # /var/task
    opt: Path  # /opt

    def python_path(self, runtime: str, runtime_dir: Path) -> list[str]:
        """sys.path entries in Lambda's order: task root, layers, then the runtime's own
        packages (/var/runtime) last, so a layer's boto3 wins over the runtime's."""
        version = runtime.removeprefix("python")
        return [
            str(self.task),
            str(self.opt / "python" / "lib" / f"python{version}" / "site-packages"),
            str(self.opt / "python"),
            str(runtime_dir),
        ]


def materialise(fn: Function, s3: Any, state: Path) -> Layout:
    state.mkdir(parents=True, exist_ok=True)
    zips = state / "zips"
    zips.mkdir(exist_ok=True)
    code = _download(s3, fn.code_bucket, fn.code_key, zips)
    layers = [_download(s3, layer.bucket, layer.key, zips) for layer in fn.layers]
    digest = hashlib.sha256("".join(p.stem for p in [code, *layers]).encode()).hexdigest()[:16]
    root = state / "functions" / f"{fn.name}-{digest}"
    if (root / ".complete").exists():
        return Layout(root, root / "task", root / "opt")
    staging = Path(tempfile.mkdtemp(prefix=".layout-", dir=state))
    try:
        _extract(code, staging / "task")
        (staging / "opt").mkdir()
        for layer in layers:
            _extract(layer, staging / "opt")
        (staging / ".complete").touch()
        root.parent.mkdir(parents=True, exist_ok=True)
        if root.exists():
            shutil.rmtree(root)
        os.replace(staging, root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Layout(root, root / "task", root / "opt")


def _download(s3: Any, bucket: str, key: str, into: Path) -> Path:
    """The object saved as <sha256>.zip (so equal content is stored and extracted once)."""
    fd, tmp = tempfile.mkstemp(dir=into, suffix=".part")
    try:
        sha = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
            for chunk in iter(lambda: body.read(1 << 20), b""):
                sha.update(chunk)
                out.write(chunk)
        final = into / f"{sha.hexdigest()}.zip"
        os.replace(tmp, final)
        return final
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _extract(path: Path, into: Path) -> None:
    """Extract keeping Unix permission bits (zipfile drops them), as Lambda's unzip does."""
    into.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            target = Path(zf.extract(info, into))
            mode = info.external_attr >> 16
            if mode and not info.is_dir():
                target.chmod(mode & 0o777 | 0o400)
