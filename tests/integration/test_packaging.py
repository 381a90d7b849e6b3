"""A plain (not editable) install carries what the service needs at run time: the migrations."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy of what the Dockerfile copies: setuptools leaves build/ in the source tree.
    source = tmp_path_factory.mktemp("source")
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copy(ROOT / "README.md", source)
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "persona_api", source / "persona_api", ignore=skip)
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*pip_wheel, "-w", str(out), str(source)], check=True, capture_output=True, timeout=300)
    (found,) = out.glob("persona_api-*.whl")
    return found


def test_the_wheel_ships_every_migration(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {n.rsplit("/", 1)[-1] for n in names if n.startswith("persona_api/store/migrations/versions/")}
    in_tree = {p.name for p in (ROOT / "persona_api" / "store" / "migrations" / "versions").glob("*.py")}
    assert in_tree and shipped == in_tree
    assert {"persona_api/store/migrations/env.py", "persona_api/store/migrations/script.py.mako"} <= names


def test_an_unpacked_wheel_migrates_a_database_on_its_own(wheel: Path, tmp_path: Path) -> None:
    """The package found first on the path is the unpacked wheel's, away from the source tree."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    database = tmp_path / "fresh.db"
    script = (
        "import persona_api, sys\n"
        "from persona_api.store import migrate\n"
        f"assert persona_api.__file__.startswith({str(site)!r}), persona_api.__file__\n"
        f"migrate.upgrade('sqlite+aiosqlite:///{database}')\n"
        "print(migrate.head_revision())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() and database.stat().st_size > 0
