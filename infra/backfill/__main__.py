"""`python -m infra.backfill` (make backfill PREFIX=… [DRY_RUN=1] | EXECUTION=<arn>)."""

from __future__ import annotations

import os
import sys

import botocore.exceptions

from infra.deploy.errors import DeployError


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)
    from infra.backfill.run import backfill

    try:
        return backfill(os.environ)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except botocore.exceptions.ClientError as exc:
        print(f"error: AWS refused a request: {exc}", file=sys.stderr)
        print("  next: check that the identity may use S3, Lambda and Step Functions on the "
              "app stack's resources", file=sys.stderr)  # fmt: skip
        return 1
    except botocore.exceptions.BotoCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("  next: check the network, AWS_REGION and AWS_ENDPOINT_URL", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # before watching began (from then on, run.py says how to watch)
        print("interrupted; run the same command again: it attaches to the backfill if this one "
              "got as far as starting it", file=sys.stderr)  # fmt: skip
        return 130


if __name__ == "__main__":
    sys.exit(main())
