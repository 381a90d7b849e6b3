"""The layers of ``../shared/STYLE.md`` hold: import-linter's contracts in pyproject.toml pass.

A package imports only from the layers below it, the domains (memory, recsys, pairing,
preferences, values) never import each other, and every top-level module has a layer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports(
    config: Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # A subprocess: import-linter builds its graph from the files of the package found first on
    # the path, which for the second test is a modified copy.
    code = (
        "from importlinter.cli import lint_imports; "
        f"raise SystemExit(lint_imports(config_filename={str(config)!r}, no_cache=True))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_import_contracts_are_kept() -> None:
    proc = _lint_imports(ROOT / "pyproject.toml", ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Contracts: 1 kept, 0 broken." in proc.stdout


def test_the_layers_contract_fails_on_an_upward_import(tmp_path: Path) -> None:
    """The contract is live: a copy of the package with one upward import breaks it."""
    copy = tmp_path / "persona_api"
    shutil.copytree(ROOT / "persona_api", copy, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    upward = copy / "kernel" / "embed.py"
    upward.write_text(upward.read_text() + "\nfrom persona_api import app  # noqa\n")
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    proc = _lint_imports(tmp_path / "pyproject.toml", tmp_path, {**os.environ, "PYTHONPATH": str(tmp_path)})
    assert proc.returncode != 0
    assert "persona_api.kernel is not allowed to import persona_api.app" in proc.stdout
