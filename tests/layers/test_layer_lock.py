"""`lock`: pip-compile with hashes, then the layer's `omit` list applied."""

from __future__ import annotations

import shutil

import pytest

from infra.layerbuild.config import LAYERS_DIR, load_layers
from infra.layerbuild.lock import drop_omitted, lock_layer

COMPILED = """\
#
#    pip-compile --generate-hashes requirements.in
#
certifi==2026.1.1 \\
    --hash=sha256:aa
    # via requests
requests==2.33.0 \\
    --hash=sha256:bb \\
    --hash=sha256:cc
    # via vadersentiment
vadersentiment==3.3.2 \\
    --hash=sha256:dd
    # via -r requirements.in
"""


def test_drop_omitted_removes_whole_blocks_only():
    assert drop_omitted(COMPILED, {"requests", "certifi"}) == (
        "#\n#    pip-compile --generate-hashes requirements.in\n#\n"
        "vadersentiment==3.3.2 \\\n    --hash=sha256:dd\n    # via -r requirements.in\n"
    )


@pytest.mark.slow
def test_relocking_vader_reproduces_the_hand_trimmed_lock(tmp_path, quiet):
    folder = shutil.copytree(LAYERS_DIR / "vader", tmp_path / "vader")
    (folder / "requirements.txt").unlink()  # resolve from scratch: requests comes back...
    lock_layer(folder, out=quiet[0])
    (layer,) = load_layers(["vader"], tmp_path)  # ...and is dropped again by `omit`
    assert [(p.name, p.version) for p in layer.pins] == [("vadersentiment", "3.3.2")]
    assert (folder / "requirements.txt").read_text() == (
        LAYERS_DIR / "vader" / "requirements.txt"
    ).read_text()
