"""The builder's view of the host environment: hermetic pip, the CA bundle, the pip cache.

Host pip configuration (pip.conf constraints, find-links, extra indexes, PIP_* variables) must
not leak into layers: it would pick different wheels on different machines. So every pip run
gets an explicit environment with PIP_CONFIG_FILE=/dev/null (which makes pip skip every config
file, including the site-wide ones that --isolated still reads), an explicit index and cache,
and the CA bundle passed explicitly.
"""

from __future__ import annotations

import os
from pathlib import Path

from infra.layerbuild.errors import ConfigError

INDEX_URL = "https://pypi.org/simple"
# Checked in this order; the first one set wins. LAYER_BUILD_CA_BUNDLE is ours, the others are
# what pip, requests and OpenSSL users already set behind a TLS-intercepting proxy.
CA_BUNDLE_VARIABLES = ("LAYER_BUILD_CA_BUNDLE", "PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")
_PASSTHROUGH = ("PATH", "HOME", "TMPDIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


def ca_bundle() -> tuple[Path, str] | None:
    """The configured CA bundle and the variable that configured it, or None."""
    for variable in CA_BUNDLE_VARIABLES:
        value = os.environ.get(variable)
        if value:
            path = Path(value)
            if not path.is_file():
                raise ConfigError(
                    f"{variable}={value} is not a file: point it at your CA bundle "
                    "(e.g. /etc/ssl/certs/ca-certificates.crt) or unset it"
                )
            return path, variable
    return None


def index_url() -> str:
    """LAYER_PIP_INDEX_URL for a mirror; hashes still pin every file, so a mirror is safe."""
    return os.environ.get("LAYER_PIP_INDEX_URL", INDEX_URL)


def pip_cache_dir() -> Path:
    """Shared with the container (mounted) so each wheel is downloaded once per machine."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pip"
    return Path(os.environ.get("LAYER_PIP_CACHE", default))


def hermetic_env(**extra: str) -> dict[str, str]:
    """A minimal environment for pip and the target interpreter (proxies pass through)."""
    env = {}
    for name in _PASSTHROUGH:
        for variant in (name, name.lower()):
            if variant in os.environ:
                env[variant] = os.environ[variant]
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        PIP_NO_WARN_SCRIPT_LOCATION="1",
        PYTHONHASHSEED="0",  # set/frozenset constants in bytecode are ordered by hash
        PYTHONDONTWRITEBYTECODE="1",
        LC_ALL="C.UTF-8",
    )
    env.update(extra)
    return env


def pip_common_options(cache_dir: str, cert: str | None) -> list[str]:
    options = [
        "--no-input",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        "--index-url",
        index_url(),
        "--cache-dir",
        cache_dir,
    ]
    if cert:
        options += ["--cert", cert]
    return options
