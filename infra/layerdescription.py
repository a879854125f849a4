"""A published layer version's description, "<packages> (<content key>)", written and parsed here.

The layer stack writes it (infra/templates/layer.yaml, `Description: !Sub` of `TEMPLATE_SUB`; a
test proves the template agrees), the deployer writes the same when it publishes a version
through the Lambda API on a local endpoint, and the local Lambda service reads the content key
back, which maps any version (pinned old ones too) to its zip in the artifact bucket.
"""

from __future__ import annotations

import re

TEMPLATE_SUB = "${Packages} (${ContentKey})"
_CONTENT_KEY = re.compile(r"\((layers/[^()]+\.zip)\)$")


def describe(packages: str, content_key: str) -> str:
    return f"{packages} ({content_key})"


def content_key(description: str) -> str | None:
    """The layer zip's key in the artifact bucket, or None for a description not written here."""
    match = _CONTENT_KEY.search(description)
    return match.group(1) if match else None
