"""The grouping rule: tiny files share one invocation, a group stays far from any limit.

A group closes when the next object would take it past any of:
- GROUP_BYTES (64 MiB): about 12 s of scoring at the default 1,024 MB (the README's measured
  throughput, ~5.4 MB/s there), so one group never nears the 15-minute limit and a retried
  group repeats little work;
- GROUP_OBJECTS (500): each object costs a few S3 requests besides its scoring (the source's
  GET, three PUTs: tens of ms each on AWS; see estimate.py);
- GROUP_PAYLOAD (128 KiB of JSON): half of Step Functions' 256 KiB limit on a state's input;
- the fair share ceil(n / concurrency): with fewer objects than concurrency × GROUP_OBJECTS,
  the groups are spread so that every concurrent invocation gets work.
An object larger than GROUP_BYTES gets a group of its own: the function decides whether it
fits one invocation or takes the fan-out path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

from infra.backfill.listing import Listed

GROUP_BYTES = 64 * 2**20
GROUP_OBJECTS = 500
GROUP_PAYLOAD = 128 * 1024


def item(obj: Listed) -> dict:
    return {"key": obj.key, "etag": obj.etag, "size": obj.size}


def plan(objects: Iterable[Listed], concurrency: int) -> list[dict]:
    """Manifest items: [{"index": i, "objects": [{"key", "etag", "size"}, …]}, …]."""
    objects = list(objects)
    small = sum(1 for o in objects if o.size <= GROUP_BYTES)
    share = max(1, math.ceil(small / max(1, concurrency)))
    cap = min(GROUP_OBJECTS, share)
    groups: list[list[dict]] = []
    current: list[dict] = []
    size = payload = 0
    for obj in objects:
        entry = item(obj)
        weight = len(json.dumps(entry)) + 2
        if obj.size > GROUP_BYTES:
            groups.append([entry])
            continue
        if current and (
            len(current) >= cap or size + obj.size > GROUP_BYTES or payload + weight > GROUP_PAYLOAD
        ):
            groups.append(current)
            current, size, payload = [], 0, 0
        current.append(entry)
        size += obj.size
        payload += weight
    if current:
        groups.append(current)
    return [{"index": i, "objects": g} for i, g in enumerate(groups)]
