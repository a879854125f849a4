"""Cold start of the deployed scoring function against the bare import of its layers.

The function is built, deployed to a local endpoint (moto server) with `make deploy`'s code
and run by the local Lambda service under RIE + awslambdaric with the runtime's Python, as
`make demo` runs it. Each round starts a fresh instance and invokes it once; RIE's INIT REPORT
is the cold start (runtime start → awslambdaric → handler module: imports, settings, S3
client, the VADER analyzer). In the same run, with the same interpreter and sys.path, a fresh
process imports the layers' packages and exits (the baseline), then imports them again with
their bytecode hidden, which shows that the shipped .pyc are what is used.

    .venv/bin/python tests/bench/bench_coldstart.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

RUNTIME, ARCH, STACK = "python3.12", "x86_64", "bench"
GOAL = 1.10  # the cold start may be at most 10% above the bare import of the layers


def _run(cmd: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd[1:])} failed:\n{(done.stdout + done.stderr)[-2000:]}")


def _top_level_packages(opt: Path) -> list[str]:
    """Importable names the layers ship (folders with __init__.py and single modules)."""
    names = set()
    for site in (opt / "python", opt / "python" / "lib" / f"python{RUNTIME[6:]}" / "site-packages"):
        if not site.is_dir():
            continue
        for p in site.iterdir():
            if p.is_dir() and (p / "__init__.py").exists():
                names.add(p.name)
            elif p.suffix == ".py" and p.stem != "__init__":
                names.add(p.stem)
    return sorted(names)


def _import_seconds(python: str, env: dict[str, str], modules: list[str], cwd: Path) -> float:
    """Wall time of a fresh interpreter that imports `modules` and exits (what an init pays
    beyond the handler's own code: interpreter start-up plus the imports)."""
    code = "; ".join(f"import {m}" for m in modules)
    started = time.perf_counter()
    subprocess.run([python, "-c", code], env=env, cwd=cwd, check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    from infra.endpoint import start_moto_server
    from infra.local.instance import Instance, lambda_environment
    from infra.local.prepare import isolated_env
    from infra.local.rie import ensure_rie
    from infra.local.service import LocalLambdaService

    py = sys.executable
    print("building layers and the function (unchanged ones are reused)…", flush=True)
    _run(
        [py, "-m", "infra.layerbuild", "build", "--runtime", RUNTIME, "--arch", ARCH],
        isolated_env(),
    )
    _run([py, "-m", "infra.deploy", "package"], isolated_env())
    with tempfile.TemporaryDirectory() as tmp, start_moto_server() as moto:
        print(f"deploying to {moto.url}…", flush=True)
        deploy_env = isolated_env(
            {
                **moto.deployer_env(),
                "STACK": STACK,
                "RUNTIME": RUNTIME,
                "ARCH": ARCH,
                "DEPLOY_POLL_SECONDS": "0.2",
            }
        )
        _run([py, "-m", "infra.deploy", "deploy"], deploy_env)
        service = LocalLambdaService(
            moto.env(), ROOT / ".local" / "cache", run_dir=Path(tmp), say=lambda s: None
        ).start()
        try:
            served = service.served[f"{STACK}-app-score"]
            fn, layout, runtime = served.fn, served.layout, served.runtime
            rie = ensure_rie(fn.arch)
            env = lambda_environment(fn, layout, runtime, "bench", moto.env())
            layer_modules = _top_level_packages(layout.opt)
            handler_modules = [
                "aws_lambda_powertools.logging",
                "aws_lambda_powertools.metrics",
                "vaderSentiment.vaderSentiment",
                "boto3",
            ]
            no_pyc = {**env, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "empty-pycache")}
            colds, durations, bare, bare_handler, bare_nopyc, own = [], [], [], [], [], []
            for i in range(args.rounds):
                instance = Instance(fn, layout, runtime, rie, moto.env())
                try:
                    inv = instance.invoke(b'{"Records": []}')
                finally:
                    instance.stop()
                if inv.failed or inv.init_ms is None:
                    sys.exit(f"the cold invocation failed: {inv.error or inv.lines}")
                colds.append(inv.init_ms / 1000)
                own += [
                    json.loads(x.text)["init_seconds"]
                    for x in inv.lines
                    if '"init_seconds"' in x.text
                ]
                durations.append((inv.duration_ms or 0) / 1000 - inv.init_ms / 1000)
                bare.append(_import_seconds(runtime.python, env, layer_modules, layout.task))
                bare_handler.append(
                    _import_seconds(runtime.python, env, handler_modules, layout.task)
                )
                if i < 3:  # slow; three are enough to show the factor
                    bare_nopyc.append(
                        _import_seconds(runtime.python, no_pyc, layer_modules, layout.task)
                    )
        finally:
            service.stop()

    print("cold starts (ms):", [round(c * 1000) for c in colds])
    med = statistics.median
    cold, base, base_h, nopyc = med(colds), med(bare), med(bare_handler), med(bare_nopyc)
    rows = [
        (
            "cold start (RIE INIT REPORT: runtime, imports, settings, S3 client, analyzer)",
            cold,
            f"min {min(colds) * 1000:.0f}, max {max(colds) * 1000:.0f}",
        ),
        (
            "  of which the handler module's own init (its log's init_seconds)",
            med(own) if own else float("nan"),
            "",
        ),
        (
            "bare import of the layers' packages, interpreter start-up included",
            base,
            ", ".join(layer_modules),
        ),
        ("bare import of what the handler imports (powertools, vaderSentiment, boto3)", base_h, ""),
        ("the layers' packages with their bytecode hidden (compiled on import)", nopyc, ""),
        ("first invocation after the init (empty event)", med(durations), ""),
    ]
    print(f"\n{fn.name} ({fn.runtime}), {args.rounds} fresh instances, medians:")
    for label, seconds, note in rows:
        print(f"  {label:<80} {seconds * 1000:6.0f} ms" + (f"  ({note})" if note else ""))
    verdict = "met" if cold / base <= GOAL else "NOT met"
    print("ratios:")
    print(
        f"  cold start / bare import of the layers' packages    {cold / base:5.2f}"
        f"  (goal <= {GOAL:.2f}: {verdict})"
    )
    print(f"  cold start / bare import of the handler's imports   {cold / base_h:5.2f}")
    print(
        f"  without / with the layers' bytecode                 {nopyc / base:5.2f}"
        "  (> 1: the shipped .pyc are what is used)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
