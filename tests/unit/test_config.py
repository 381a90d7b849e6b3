from __future__ import annotations

from pathlib import Path

import pytest

from persona_api.config import DEFAULT_DATABASE_URL, Settings, load_settings
from persona_api.errors import ConfigurationError


def test_defaults_are_the_embedded_setup() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.database_url == DEFAULT_DATABASE_URL and settings.is_sqlite
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.models_dir == Path("models")
    assert settings.admin_token_file == Path("var/admin_token")


def test_values_are_parsed_by_type() -> None:
    settings = load_settings(
        {
            "PERSONA_PORT": "9000",
            "PERSONA_AUTO_MIGRATE": "off",
            "PERSONA_CORS_ORIGINS": "https://a.example, https://b.example,",
            "PERSONA_ARTIFACT_POLL_SECONDS": "0.5",
            "PERSONA_MODELS_DIR": "/srv/models",
            "PERSONA_DATABASE_URL": "postgresql+asyncpg://u@h/db",
            "PERSONA_ADMIN_TOKEN": "x" * 20,
            "OTHER_VAR": "ignored",
        }
    )
    assert settings.port == 9000 and settings.auto_migrate is False
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.artifact_poll_seconds == 0.5 and settings.models_dir == Path("/srv/models")
    assert not settings.is_sqlite and settings.admin_token == "x" * 20


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"PERSONA_PORT": "eighty"}, "PERSONA_PORT"),
        ({"PERSONA_PORT": "70000"}, "PERSONA_PORT"),
        ({"PERSONA_AUTO_MIGRATE": "maybe"}, "PERSONA_AUTO_MIGRATE"),
        ({"PERSONA_DATABASE_URL": "mysql://x"}, "PERSONA_DATABASE_URL"),
        ({"PERSONA_ADMIN_TOKEN": "short"}, "PERSONA_ADMIN_TOKEN"),
        ({"PERSONA_DATABSE_URL": "sqlite+aiosqlite://"}, "PERSONA_DATABSE_URL"),
        ({"PERSONA_KEEP_VERSIONS": "0"}, "PERSONA_KEEP_VERSIONS"),
        ({"PERSONA_AUTH_CACHE_SECONDS": "-1"}, "PERSONA_AUTH_CACHE_SECONDS"),
        ({"PERSONA_LLM_EXTRACT_WORKER": "thread"}, "PERSONA_LLM_EXTRACT_WORKER"),
        ({"PERSONA_LLM_EXTRACT_CONCURRENCY": "0"}, "PERSONA_LLM_EXTRACT_CONCURRENCY"),
        ({"PERSONA_LLM_EXTRACT_NICE": "20"}, "PERSONA_LLM_EXTRACT_NICE"),
        ({"PERSONA_EMBED_RUNTIME": "tensorflow"}, "PERSONA_EMBED_RUNTIME"),
        ({"PERSONA_LLM_EXTRACT_NICE": "-1"}, "PERSONA_LLM_EXTRACT_NICE"),
    ],
)
def test_bad_values_fail_fast_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        load_settings(env)


def test_the_test_database_variable_is_not_a_setting() -> None:
    assert load_settings({"PERSONA_TEST_DATABASE_URL": "postgresql+asyncpg://x/y"}) == Settings()
