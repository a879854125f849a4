"""`python -m infra.deploy package|deploy|destroy|redrive` (the Makefile's targets)."""

from __future__ import annotations

import argparse
import sys

import botocore.exceptions

from infra.deploy.config import Config
from infra.deploy.errors import DeployError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__)
    parser.add_argument("command", choices=("package", "deploy", "destroy", "redrive"))
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # stack events appear as they happen, piped too
    try:
        cfg = Config.from_env()
        if args.command == "package":
            from infra.deploy import package

            for art in package.build_all(cfg.functions_dir, cfg.build_dir / "functions").values():
                print(f"{art.path}: {art.size} bytes, sha256 {art.sha256}")
            return 0
        from infra.deploy.aws import connect

        aws = connect()
        if args.command == "deploy":
            from infra.deploy.pipeline import deploy

            deploy(cfg, aws)
        elif args.command == "destroy":
            from infra.deploy.destroy import destroy

            destroy(cfg, aws)
        else:
            from infra.deploy.redrive import redrive

            result = redrive(cfg, aws)
            return 1 if result.failed else 0
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except botocore.exceptions.ClientError as exc:
        print(f"error: AWS refused a request: {exc}", file=sys.stderr)
        print(
            "  next: check that the identity may use CloudFormation, S3, Lambda, IAM, SQS, SNS,"
            " CloudWatch and Logs (docs/deploy.md, step 1), then run it again",
            file=sys.stderr,
        )
        return 1
    except botocore.exceptions.BotoCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("  next: check the network, AWS_REGION and AWS_ENDPOINT_URL", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "interrupted; a stack operation already started keeps running in AWS", file=sys.stderr
        )
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
