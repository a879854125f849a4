"""`make demo`'s last look: the page the insights function drew for the uploaded file.

The presigned URLs work while the endpoint runs (`make local-up` keeps it running); a copy
of the page is saved under build/ so that it can still be opened after the demo stops.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra.local.steps import StepFailed, say

ROOT = Path(__file__).resolve().parents[2]
COPY_DIR = ROOT / "build" / "demo-insights"
URL_SECONDS = 3600


def page_key(rel: str) -> str:
    return f"insights/{rel}.html"


def show(service: Any, outputs: dict[str, str], rel: str) -> None:
    # The report is written at the end of the scoring invocation: its event is found by a
    # poll after that, so wait again rather than trust the first wait.
    if not service.wait_idle(timeout=240):
        raise StepFailed("insights", "no page within 240 s; see `make logs`")
    function = outputs.get("InsightsFunctionName", "")
    events = [e for e in service.events if e.function == function and rel in str(e.payload)]
    if not events:
        raise StepFailed("insights", f"no event reached {function or 'the insights function'}")
    last = events[-1].attempts[-1]
    say(f"{function}: {events[-1].outcome}, duration {last.duration_ms or 0:.0f} ms")
    if events[-1].outcome != "success":
        raise StepFailed("insights", f"the insights function failed: {last.error}")
    s3, bucket = service.clients.s3, outputs["OutputBucketName"]
    COPY_DIR.mkdir(parents=True, exist_ok=True)
    for key in (page_key(rel), "insights/index.html"):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        copy = COPY_DIR / Path(key).name
        copy.write_bytes(body)
        url = s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=URL_SECONDS
        )
        say(f"s3://{bucket}/{key}  ({len(body)} bytes)")
        say(f"  presigned URL (while the endpoint runs): {url}")
        say(f"  a copy to open in a browser now: file://{copy}")
