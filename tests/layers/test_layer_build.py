"""Real builds (slow): outputs and manifest, the smoke test, no-op reruns, determinism,
per-layer rebuilds, bytecode, slimming on real wheels, arm64 and the container path."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import marshal
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from infra.layerbuild.builders import select_builder
from infra.layerbuild.config import LAYERS_DIR, ROOT, load_layers, make_target
from infra.layerbuild.errors import LayerBuildError, VerificationError
from infra.layerbuild.pipeline import build

pytestmark = pytest.mark.slow
STEPS = ["resolve", "install", "slim", "compile", "zip", "verify"]
ELF_MACHINE = {62: "x86_64", 183: "aarch64"}


def entries(build_dir: Path) -> list[dict]:
    return json.loads((build_dir / "layers" / "manifest.json").read_text())["layers"]


def shas(build_dir: Path) -> dict[str, str]:
    return {e["name"]: e["sha256"] for e in entries(build_dir)}


def zip_names(build_dir: Path, layer: str, label: str = "python3.12-x86_64") -> list[str]:
    with zipfile.ZipFile(build_dir / "layers" / f"{layer}-{label}.zip") as archive:
        return archive.namelist()


def copy_build(pip_build, dest: Path) -> Path:
    shutil.copytree(pip_build[0] / "layers", dest / "layers")
    return dest


def test_manifest_lists_every_layer_in_the_documented_format(pip_build):
    build_dir, report, _ = pip_build
    manifest = json.loads((build_dir / "layers" / "manifest.json").read_text())
    assert manifest["schema_version"] == 1
    assert [e["name"] for e in manifest["layers"]] == ["powertools", "vader", "pandas", "plots"]
    users = {layer.name: list(layer.functions) for layer in load_layers()}
    pins = {layer.name: {p.name: p.version for p in layer.pins} for layer in load_layers()}
    for entry in manifest["layers"]:
        assert set(entry) == {"name", "position", "functions", "runtime", "arch", "zip",
                              "sha256", "zipped_bytes", "unzipped_bytes", "packages",
                              "input_hash", "builder"}  # fmt: skip
        assert entry["functions"] == users[entry["name"]]  # from layer.toml
        assert (entry["runtime"], entry["arch"]) == ("python3.12", "x86_64")
        assert entry["zip"] == f"{entry['name']}-python3.12-x86_64.zip"
        zip_path = build_dir / "layers" / entry["zip"]
        assert entry["zipped_bytes"] == zip_path.stat().st_size
        assert entry["packages"] == pins[entry["name"]]
        assert entry["builder"]["kind"] == "pip" and entry["builder"]["python"].startswith("3.12")
        names = zip_names(build_dir, entry["name"])
        assert all(n.startswith("python/") for n in names)
        assert entry["unzipped_bytes"] == sum(
            i.file_size for i in zipfile.ZipFile(zip_path).infolist()
        )
    assert report.built == ["powertools", "vader", "pandas", "plots"]


def test_smoke_test_imports_everything_with_lambdas_paths_only(pip_build):
    build_dir, report, lines = pip_build
    smoke = report.smoke
    assert {
        "pandas",
        "numpy",
        "vaderSentiment",
        "aws_lambda_powertools",
        "dateutil",
        "matplotlib",
    } <= set(smoke["imported"])
    runtime = build_dir / "runtime" / "python3.12-x86_64"
    assert smoke["sys_path"][0] == str(ROOT / "functions" / "sentiment")
    assert smoke["sys_path"][1].endswith("/opt/python")
    assert smoke["sys_path"][2].endswith("/opt/python/lib/python3.12/site-packages")
    assert smoke["sys_path"][3] == str(runtime)
    assert not any("site-packages" in p and "/opt/" not in p for p in smoke["sys_path"])
    # boto3 comes from the runtime, the python-dateutil it uses from the pandas layer
    assert smoke["botocore_from"].startswith(str(runtime))
    assert "/opt/python/dateutil/" in smoke["dateutil_from"]
    assert smoke["bytecode_used"] is True
    assert {"requests", "idna", "certifi"} <= set(smoke["absent"])  # vader works without them
    assert any(line.startswith("[python3.12-x86_64] smoke") for line in lines)


def test_one_progress_line_per_step_per_layer_with_times(pip_build):
    _, _, lines = pip_build
    for layer in ("powertools", "vader", "pandas", "plots"):
        steps = [line.split()[2] for line in lines if line.startswith(f"[{layer} python3.12")]
        assert steps == STEPS
    install = next(line for line in lines if line.startswith("[pandas") and " install " in line)
    assert " bytes " in install and install.endswith("s)")


def test_size_table_is_printed_with_the_total(pip_build):
    _, _, lines = pip_build
    tables = {
        fn: next(line for line in lines if line.startswith(f"sizes for {fn} on python3.12-x86_64"))
        for fn in ("sentiment", "insights")
    }
    # Each function's own layers (layer.toml `functions`) count against its limit.
    assert "vader" in tables["sentiment"] and "pandas" not in tables["sentiment"]
    assert "pandas" in tables["insights"] and "plots" in tables["insights"]
    assert all("fn " in t and "of Lambda's 262,144,000-byte" in t for t in tables.values())


def test_layers_stay_within_budget(pip_build):
    assert all(e["unzipped_bytes"] <= 100_000_000 for e in entries(pip_build[0]))


def test_second_build_is_a_noop_and_keeps_the_zips(pip_build, tmp_path, quiet):
    build_dir = copy_build(pip_build, tmp_path)
    before = shas(build_dir)
    out, lines = quiet
    started = time.monotonic()
    report = build(None, "python3.12", "x86_64", build_dir=build_dir,
                   builder=select_builder(make_target("python3.12", "x86_64"), mode="pip"),
                   out=out)  # fmt: skip
    assert time.monotonic() - started <= 2
    assert report.built == [] and report.skipped == ["powertools", "vader", "pandas", "plots"]
    assert shas(build_dir) == before
    assert sum("up to date" in line for line in lines) == 4


def test_noop_from_the_command_line_takes_under_two_seconds(pip_build, tmp_path):
    build_dir = copy_build(pip_build, tmp_path)
    env = {**os.environ, "LAYER_BUILDER": "pip"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "infra.layerbuild", "build", "--runtime", "python3.12",
         "--arch", "x86_64", "--build-dir", str(build_dir)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "built none; up to date powertools, vader, pandas" in done.stdout
    assert elapsed <= 2, f"no-op took {elapsed:.1f}s"


def test_a_fresh_build_is_byte_identical(pip_build, tmp_path, quiet):
    build(["powertools", "vader"], "python3.12", "x86_64", build_dir=tmp_path,
          builder=select_builder(make_target("python3.12", "x86_64"), mode="pip"),
          out=quiet[0])  # fmt: skip
    fresh = shas(tmp_path)
    original = shas(pip_build[0])
    assert fresh == {name: original[name] for name in ("powertools", "vader")}


def test_changing_one_layers_requirements_rebuilds_that_layer_only(pip_build, tmp_path, quiet):
    build_dir = copy_build(pip_build, tmp_path / "build")
    layers_dir = tmp_path / "layers"
    shutil.copytree(LAYERS_DIR, layers_dir, ignore=shutil.ignore_patterns("__pycache__"))
    with (layers_dir / "vader" / "requirements.txt").open("a") as lock:
        lock.write("# touched: the input hash must change\n")
    report = build(None, "python3.12", "x86_64", build_dir=build_dir, layers_dir=layers_dir,
                   builder=select_builder(make_target("python3.12", "x86_64"), mode="pip"),
                   out=quiet[0])  # fmt: skip
    assert report.built == ["vader"]
    assert report.skipped == ["powertools", "pandas", "plots"]


def test_bytecode_is_unchecked_hash_for_the_target_python_with_opt_paths(pip_build):
    with zipfile.ZipFile(pip_build[0] / "layers" / "vader-python3.12-x86_64.zip") as archive:
        names = set(archive.namelist())
        pycs = [n for n in names if n.endswith(".pyc")]
        assert pycs
        for name in pycs:
            data = archive.read(name)
            assert data[:4] == importlib.util.MAGIC_NUMBER  # the tests run on Python 3.12
            assert int.from_bytes(data[4:8], "little") == 0b01  # hash-based, unchecked
            code = marshal.loads(data[16:])
            assert code.co_filename.startswith("/opt/python/")
            source = name.replace("__pycache__/", "").replace(".cpython-312.pyc", ".py")
            assert source in names  # sources stay (tracebacks, the vader lexicon lookup)


def test_slimming_on_real_wheels_keeps_what_runs(pip_build):
    pandas = zip_names(pip_build[0], "pandas")
    vader = zip_names(pip_build[0], "vader")
    assert not [n for n in pandas if "/tests/" in n or n.endswith((".pyi", "/RECORD"))]
    assert [n for n in pandas if n.startswith("python/numpy.libs/") and ".so" in n]
    assert "python/numpy/testing/__init__.py" in pandas
    assert "python/vaderSentiment/vader_lexicon.txt" in vader
    for names in (pandas, vader):
        dist_infos = {n.split("/")[1] for n in names if ".dist-info/" in n}
        assert all(f"python/{d}/METADATA" in names for d in dist_infos)
    tops = {n.split("/")[1] for n in pandas + vader + zip_names(pip_build[0], "powertools")}
    assert not tops & {"boto3", "botocore", "s3transfer", "requests", "bin"}


@pytest.fixture(scope="module")
def arm64_build(tmp_path_factory):
    build_dir = tmp_path_factory.mktemp("arm64")
    lines: list[str] = []
    target = make_target("python3.12", "arm64")
    report = build(["pandas"], "python3.12", "arm64", build_dir=build_dir,
                   builder=select_builder(target, mode="pip"), out=lines.append)  # fmt: skip
    return build_dir, report, lines


def test_arm64_layers_hold_only_aarch64_shared_objects(arm64_build):
    build_dir, report, lines = arm64_build
    machines = {}
    with zipfile.ZipFile(build_dir / "layers" / "pandas-python3.12-arm64.zip") as archive:
        for name in archive.namelist():
            with archive.open(name) as stream:
                header = stream.read(20)
            if header[:4] == b"\x7fELF":
                machines[name] = ELF_MACHINE.get(int.from_bytes(header[18:20], "little"))
    assert len(machines) > 20 and set(machines.values()) == {"aarch64"}
    assert report.smoke is None
    assert any("smoke    skipped (arm64 cannot run here)" in line for line in lines)


def test_size_gate_fails_the_build_and_leaves_the_manifest_alone(pip_build, tmp_path, quiet):
    build_dir = copy_build(pip_build, tmp_path)
    before = (build_dir / "layers" / "manifest.json").read_bytes()
    with pytest.raises(VerificationError, match=r"over Lambda's limit of 1,000,000"):
        build(None, "python3.12", "x86_64", build_dir=build_dir, size_limit=1_000_000,
              builder=select_builder(make_target("python3.12", "x86_64"), mode="pip"),
              out=quiet[0])  # fmt: skip
    assert (build_dir / "layers" / "manifest.json").read_bytes() == before


def test_two_layers_with_the_same_package_fail_the_build(tmp_path, make_layer, quiet):
    layers_dir = tmp_path / "layers"
    make_layer(layers_dir, "one", position=1)
    make_layer(layers_dir, "two", position=2)
    with pytest.raises(VerificationError, match=r"vaderSentiment is shipped by both 'one' and"):
        build(None, "python3.12", "x86_64", build_dir=tmp_path / "build", layers_dir=layers_dir,
              builder=select_builder(make_target("python3.12", "x86_64"), mode="pip"),
              out=quiet[0])  # fmt: skip
    assert not (tmp_path / "build" / "layers" / "manifest.json").exists()


def test_a_failing_check_keeps_the_previous_zips_and_manifest(tmp_path, make_layer, quiet):
    layers_dir = tmp_path / "layers"
    build_dir = tmp_path / "build"
    make_layer(layers_dir, "vader")
    builder = select_builder(make_target("python3.12", "x86_64"), mode="pip")
    build(None, "python3.12", "x86_64", build_dir=build_dir, layers_dir=layers_dir,
          builder=builder, out=quiet[0])  # fmt: skip
    good = (build_dir / "layers" / "manifest.json").read_bytes()
    make_layer(
        layers_dir,
        "vader",
        extra_toml='omit = [{ name = "requests", reason = "demo" }]\n'
        "smoke = \"assert False, 'lexicon missing'\"",
    )
    with pytest.raises(VerificationError, match=r"(?s)import smoke test failed.*lexicon missing"):
        build(None, "python3.12", "x86_64", build_dir=build_dir, layers_dir=layers_dir,
              builder=builder, out=quiet[0])  # fmt: skip
    assert (build_dir / "layers" / "manifest.json").read_bytes() == good
    (entry,) = entries(build_dir)
    zip_path = build_dir / "layers" / entry["zip"]
    assert hashlib.sha256(zip_path.read_bytes()).hexdigest() == entry["sha256"]
    assert sorted(p.name for p in (build_dir / "layers").iterdir()) == [
        ".lock", "manifest.json", "vader-python3.12-x86_64.zip"
    ]  # fmt: skip


@pytest.mark.docker
def test_container_path_yields_the_same_packages_as_pip(
    standin_image, docker_client, pip_build, tmp_path, quiet
):
    target = make_target("python3.12", "x86_64")
    builder = select_builder(target, mode="docker", image=standin_image)
    assert builder.kind == "docker"
    report = build(["powertools", "vader"], "python3.12", "x86_64", build_dir=tmp_path,
                   builder=builder, out=quiet[0])  # fmt: skip
    assert report.built == ["powertools", "vader"] and report.smoke is not None
    docker_entries = {e["name"]: e for e in entries(tmp_path)}
    pip_entries = {e["name"]: e for e in entries(pip_build[0])}
    for name in ("powertools", "vader"):
        assert docker_entries[name]["packages"] == pip_entries[name]["packages"]
        assert sorted(zip_names(tmp_path, name)) == sorted(zip_names(pip_build[0], name))
        described = docker_entries[name]["builder"]
        assert described["kind"] == "docker" and described["image_id"].startswith("sha256:")
        # The tag asked for and the ID it resolved to (docker's own ID of that image).
        assert described["image"] == standin_image
        assert described["image_id"] == docker_client.images.get(standin_image).id
        assert described["python"].startswith("3.12.")


@pytest.mark.docker
def test_container_behind_a_tls_proxy_needs_the_ca_bundle(
    standin_image, docker_client, monkeypatch, tmp_path, quiet
):
    """The stand-in, like the real build image, trusts only public CAs. Where a proxy
    intercepts TLS (as in CI here), pip in the container fails without the host's bundle, and
    the error says which setting fixes it; with the bundle the same build works (see
    test_container_path_yields_the_same_packages_as_pip)."""
    for name in ("LAYER_BUILD_CA_BUNDLE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LAYER_PIP_CACHE", str(tmp_path / "empty-cache"))  # force a download
    builder = select_builder(make_target("python3.12", "x86_64"), mode="docker",
                             image=standin_image)  # fmt: skip
    try:
        build(["vader"], "python3.12", "x86_64", build_dir=tmp_path / "build", builder=builder,
              out=quiet[0])  # fmt: skip
    except LayerBuildError as exc:
        assert "CERTIFICATE_VERIFY_FAILED" in str(exc)
        assert "point LAYER_BUILD_CA_BUNDLE at a CA bundle" in str(exc)
    else:
        pytest.skip("no TLS-intercepting proxy between this machine and PyPI: nothing to prove")
