"""The generated admin token: private to its owner, and one token for every process."""

from __future__ import annotations

import stat
from pathlib import Path

from persona_api.config import Settings
from persona_api.store.admin_token import resolve_admin_token


def _settings(tmp_path: Path, token: str | None = None) -> Settings:
    return Settings(
        database_url="sqlite://", var_dir=tmp_path / "var", models_dir=tmp_path / "m", admin_token=token
    )


def test_a_generated_token_is_kept_in_a_file_only_its_owner_can_read(tmp_path: Path) -> None:
    token = resolve_admin_token(_settings(tmp_path))
    path = tmp_path / "var" / "admin_token"
    assert path.read_text().strip() == token and len(token) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["admin_token"]  # no staging file left


def test_every_later_start_reads_the_same_token_and_a_configured_one_wins(tmp_path: Path) -> None:
    first = resolve_admin_token(_settings(tmp_path))
    assert resolve_admin_token(_settings(tmp_path)) == first
    assert resolve_admin_token(_settings(tmp_path, token="configured-token-0123456789")) == (
        "configured-token-0123456789"
    )
