"""Bad input gives a clear error naming the problem and the fix."""

from __future__ import annotations

import pytest

from infra.layerbuild.__main__ import main
from infra.layerbuild.config import load_layers, make_target
from infra.layerbuild.errors import ConfigError

HASH = "--hash=sha256:" + "0" * 64


def test_real_layers_are_ordered_by_declared_position():
    layers = load_layers()
    assert [layer.name for layer in layers] == ["powertools", "vader", "pandas", "plots"]
    users = {layer.name: layer.functions for layer in layers}
    assert users["vader"] == ("sentiment",) and "sentiment" not in users["pandas"] + users["plots"]
    assert [layer.position for layer in layers] == [10, 20, 30, 40]


def test_vader_declares_requests_omitted_with_a_reason():
    (vader,) = load_layers(["vader"])
    omitted = {o.name: o.reason for o in vader.omit}
    assert "requests" in omitted and "__main__" in omitted["requests"]
    assert "requests" not in {p.name for p in vader.pins}


def test_unknown_layer_names_the_declared_ones(layers_dir, make_layer):
    make_layer(layers_dir, "vader")
    with pytest.raises(ConfigError, match=r"unknown layer 'nope'; declared layers: vader"):
        load_layers(["nope"], layers_dir)


def test_unknown_layer_from_the_cli_exits_2_with_the_message(capsys):
    assert main(["build", "--layer", "nope", "--runtime", "python3.12", "--arch", "x86_64"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown layer 'nope'") and "powertools" in err


@pytest.mark.parametrize(
    ("runtime", "arch", "message"),
    [
        ("python3.11", "x86_64", r"unsupported runtime 'python3.11'.*python3.12, python3.13"),
        ("python3.12", "amd64", r"unsupported arch 'amd64'; supported: x86_64, arm64"),
    ],
)
def test_unsupported_target_is_rejected(runtime, arch, message):
    with pytest.raises(ConfigError, match=message):
        make_target(runtime, arch)


def test_missing_lock_says_how_to_make_it(layers_dir, make_layer):
    make_layer(layers_dir, "empty", lock=None)
    with pytest.raises(ConfigError, match=r"requirements.txt is missing.*make lock LAYER=empty"):
        load_layers(None, layers_dir)


@pytest.mark.parametrize(
    ("lock", "message"),
    [
        (f"numpy>=2 {HASH}\n", r"numpy is not pinned to an exact version \(>=2\)"),
        (f"numpy {HASH}\n", r"numpy is not pinned to an exact version \(no version\)"),
        (f"numpy==2.* {HASH}\n", r"not pinned to an exact version"),
        ("numpy==2.5.5\n", r"numpy==2.5.5 has no --hash.*--require-hashes"),
        ("# only comments\n", r"pins nothing"),
        (f"--extra-index-url https://x\nsix==1.17.0 {HASH}\n", r"option line '--extra-index-url'"),
        (f"six==1.17.0 {HASH}\nsix==1.17.0 {HASH}\n", r"pins six more than once"),
    ],
)
def test_unpinned_or_unhashed_locks_are_rejected(layers_dir, make_layer, lock, message):
    make_layer(layers_dir, "bad", lock=lock)
    with pytest.raises(ConfigError, match=message):
        load_layers(None, layers_dir)


def test_multiline_hashed_lock_is_parsed(layers_dir, make_layer):
    make_layer(layers_dir, "ok", lock=f"six==1.17.0 \\\n    {HASH} \\\n    {HASH}\n    # via x\n")
    (layer,) = load_layers(None, layers_dir)
    assert [(p.name, p.version, len(p.hashes)) for p in layer.pins] == [("six", "1.17.0", 2)]


def test_more_than_five_layers_is_refused_even_when_building_one(layers_dir, make_layer):
    for i in range(6):
        make_layer(layers_dir, f"l{i}", position=i)
    with pytest.raises(ConfigError, match=r"6 layers are attached to function '\*' .* at most 5"):
        load_layers(["l0"], layers_dir)


def test_the_five_layer_limit_is_per_function(layers_dir, make_layer):
    for i in range(6):
        fn = "a" if i < 3 else "b"
        make_layer(layers_dir, f"l{i}", position=i, extra_toml=f'functions = ["{fn}"]')
    assert len(load_layers(None, layers_dir)) == 6
    make_layer(layers_dir, "shared", position=9, extra_toml='functions = ["a", "b"]')
    make_layer(layers_dir, "more", position=8, extra_toml='functions = ["b"]')
    assert len(load_layers(None, layers_dir)) == 8  # b has five
    make_layer(layers_dir, "over", position=7, extra_toml='functions = ["b"]')
    with pytest.raises(ConfigError, match=r"6 layers are attached to function 'b'"):
        load_layers(None, layers_dir)


@pytest.mark.parametrize(
    "bad", ["functions = []", 'functions = "sentiment"', 'functions = ["A B"]']
)
def test_functions_must_name_function_folders(layers_dir, make_layer, bad):
    make_layer(layers_dir, "x", extra_toml=bad)
    with pytest.raises(ConfigError, match="`functions` must be a non-empty list"):
        load_layers(None, layers_dir)


def test_two_layers_cannot_share_a_position(layers_dir, make_layer):
    make_layer(layers_dir, "a", position=10)
    make_layer(layers_dir, "b", position=10)
    with pytest.raises(ConfigError, match=r"'a' and 'b' both declare position = 10"):
        load_layers(None, layers_dir)


def test_omit_needs_a_reason(layers_dir, make_layer):
    make_layer(layers_dir, "a", extra_toml='omit = [{ name = "requests" }]')
    with pytest.raises(ConfigError, match=r"every `omit` entry needs a name and a non-empty"):
        load_layers(None, layers_dir)


def test_an_omitted_package_cannot_also_be_pinned(layers_dir, make_layer):
    make_layer(
        layers_dir,
        "a",
        lock=f"requests==2.0.0 {HASH}\n",
        extra_toml='omit = [{ name = "Requests", reason = "not needed" }]',
    )
    with pytest.raises(ConfigError, match=r"pins requests, which .* lists in `omit`"):
        load_layers(None, layers_dir)
