"""The Compose stack and the image, checked without a Docker engine.

`docker-compose config` (v1.29, Debian's package; CI installs it) validates and resolves
docker/compose.yaml; the tests then read the resolved file. The Dockerfile is checked as text.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from persona_api.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker" / "compose.yaml"
DOCKERFILE = ROOT / "docker" / "Dockerfile"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
PERSONA_SERVICES = ("migrate", "api", "reindex")


def _compose(*args: str) -> str:
    exe = shutil.which("docker-compose")
    if exe is None:
        reason = (
            "docker-compose is not on PATH: install it with "
            "`apt-get install -y --no-install-recommends docker-compose` (.ci/run does)"
        )
        # A developer's machine may lack it; CI installs it, so there a missing one is an error.
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    # Drop the host's token so the file's documented development default is what gets checked.
    env = {k: v for k, v in os.environ.items() if k != "PERSONA_ADMIN_TOKEN"}
    proc = subprocess.run(
        [exe, "-f", str(COMPOSE_FILE), "--profile", "jobs", "--profile", "llm", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"docker-compose {' '.join(args)} failed:\n{proc.stderr}"
    return proc.stdout


@cache
def _config() -> dict[str, Any]:
    resolved = yaml.safe_load(_compose("config"))
    assert isinstance(resolved, dict)
    return resolved


def _service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = _config()["services"][name]
    return service


def _env(name: str) -> dict[str, str]:
    return {k: str(v) for k, v in (_service(name).get("environment") or {}).items()}


def _named_mounts(name: str) -> dict[str, str]:
    """Named-volume mounts of a service, as {volume: container path}."""
    mounts: dict[str, str] = {}
    for entry in _service(name).get("volumes", []):
        source, target = (
            entry.split(":")[:2] if isinstance(entry, str) else (entry["source"], entry["target"])
        )
        if not source.startswith(("/", ".")):
            mounts[source] = target
    return mounts


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_compose_file_defines_the_stack() -> None:
    assert set(_compose("config", "--services").split()) == {
        "postgres",
        "redis",
        "migrate",
        "api",
        "reindex",
        "llm",
    }
    assert set(_compose("config", "--volumes").split()) == {"pgdata", "models", "ollama"}


def test_postgres_has_a_healthcheck_and_persistent_volume() -> None:
    postgres = _service("postgres")
    test = postgres["healthcheck"]["test"]
    assert "pg_isready" in " ".join(test if isinstance(test, list) else [test])
    assert _named_mounts("postgres") == {"pgdata": "/var/lib/postgresql/data"}


def test_migrations_run_once_before_the_api() -> None:
    migrate = _service("migrate")
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    api = _service("api")
    assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    # api must not race the migrate service with its own start-up migration.
    assert _env("api")["PERSONA_AUTO_MIGRATE"] == "false"


def test_optional_services_sit_behind_profiles() -> None:
    assert _service("reindex")["profiles"] == ["jobs"]
    assert _service("reindex")["command"] == ["reindex"]
    assert _service("llm")["profiles"] == ["llm"]
    for always_on in ("postgres", "migrate", "api"):
        assert not _service(always_on).get("profiles")


def test_api_and_reindex_share_the_models_volume() -> None:
    for name in ("api", "reindex"):
        models_dir = _env(name)["PERSONA_MODELS_DIR"]
        assert _named_mounts(name).get("models") == models_dir, name
    assert _env("api")["PERSONA_MODELS_DIR"] == _env("reindex")["PERSONA_MODELS_DIR"]


def test_services_reach_postgres_by_service_name() -> None:
    for name in PERSONA_SERVICES:
        url = _env(name)["PERSONA_DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://"), name
        assert re.search(r"@postgres(:5432)?/", url), url


def test_service_environment_is_accepted_by_the_settings_loader() -> None:
    # Unknown PERSONA_* variables stop the service at start-up: the compose env must load cleanly.
    for name in PERSONA_SERVICES:
        settings = load_settings(_env(name))
        assert settings.host == "0.0.0.0"
        assert settings.port == 8000
        assert settings.admin_token is not None


def test_api_publishes_its_port() -> None:
    ports = _service("api")["ports"]
    assert any(str(p.get("target") if isinstance(p, dict) else p).endswith("8000") for p in ports)


def test_dockerfile_is_multi_stage_and_runs_as_non_root() -> None:
    instructions = _dockerfile_instructions()
    assert sum(1 for keyword, _ in instructions if keyword == "FROM") >= 2
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users, "the image must switch to a non-root USER"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_installs_cpu_torch_from_the_pytorch_index() -> None:
    runs = [args for keyword, args in _dockerfile_instructions() if keyword == "RUN"]
    torch_runs = [r for r in runs if "torch==2.13.0" in r]
    assert torch_runs, "torch==2.13.0 must be installed explicitly"
    assert any(
        re.search(r"--(extra-)?index-url[ =]https://download\.pytorch\.org/whl/cpu", r) for r in torch_runs
    )


def test_dockerfile_installs_the_package_not_editable() -> None:
    """The image holds an installed package (migrations inside it), not a pointer to /app."""
    instructions = _dockerfile_instructions()
    installs = [args for keyword, args in instructions if keyword == "RUN" and "pip install" in args]
    assert installs and not any(re.search(r"pip install[^&]* -e\b", args) for args in installs)
    assert not any(keyword == "COPY" and "--from=builder /app" in args for keyword, args in instructions)


def test_dockerfile_healthcheck_and_entrypoint() -> None:
    instructions = dict(_dockerfile_instructions())
    assert "/healthz" in instructions["HEALTHCHECK"]
    assert "8000" in instructions["EXPOSE"]
    assert "entrypoint" in instructions["ENTRYPOINT"]
    assert os.access(ENTRYPOINT, os.X_OK)
    script = ENTRYPOINT.read_text()
    assert "set -euo pipefail" in script
    assert 'exec persona-api "$@"' in script
    subprocess.run(["bash", "-n", str(ENTRYPOINT)], check=True)


def test_the_api_runs_several_workers_sharing_rate_limits_through_redis() -> None:
    config = _config()
    api = config["services"]["api"]
    assert int(api["environment"]["PERSONA_WORKERS"]) >= 2
    assert api["environment"]["PERSONA_REDIS_URL"].startswith("redis://redis:")
    assert api["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "healthcheck" in config["services"]["redis"]
