"""`python -m infra.local demo|up|down|logs` (the Makefile's demo, local-up, local-down, logs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="the whole pipeline on a local endpoint, then stop")
    sub.add_parser("up", help="start the endpoint and the Lambda service and leave them running")
    sub.add_parser("down", help="stop what `up` started")
    logs = sub.add_parser("logs", help="print the function logs, CloudWatch style")
    logs.add_argument("--function", help="only this function")
    serve = sub.add_parser("serve", help=argparse.SUPPRESS)
    serve.add_argument("--endpoint", required=True)
    serve.add_argument("--run-dir", type=Path, required=True)
    serve.add_argument("--lambda-port", type=int, default=0)
    args = parser.parse_args(argv)

    from infra.local import background, demo

    if args.command == "demo":
        return demo.demo()
    if args.command == "up":
        return background.up()
    if args.command == "down":
        return background.down()
    if args.command == "logs":
        return background.logs(args.function)
    return background.serve(args.endpoint, args.run_dir, args.lambda_port)


if __name__ == "__main__":
    sys.exit(main())
