"""Settings: one frozen dataclass read once from ``PERSONA_*`` environment variables.

This is the only module that reads the environment. Bad values fail fast with a message that
names the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from persona_api.errors import ConfigurationError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/persona.db"


EXTRACTION_WORKERS = ("process", "inline", "external")
FAILED_AUTH_PER_MINUTE = 30


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Runtime configuration of the API, the CLI and the re-index job.

    Every field maps to ``PERSONA_<FIELD NAME IN UPPER CASE>``; see docs/configuration.md.
    """

    database_url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy async URL: ``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://...``."""
    models_dir: Path = Path("./models")
    """Where the re-index job publishes versioned artifacts and the API loads them from."""
    var_dir: Path = Path("./var")
    """Local state of the embedded default: the SQLite file and the generated admin token."""
    host: str = "127.0.0.1"
    port: int = 8000
    admin_token: str | None = None
    """Bearer token of the admin API. Unset: generated once into ``<var_dir>/admin_token``."""
    auto_migrate: bool = True
    """``serve`` applies pending migrations before listening."""
    max_body_bytes: int = 1_048_576
    rate_limit_per_minute: int = 600
    """Requests per minute per tenant (all its keys together) unless the tenant has a limit of its
    own, and per client address for requests without a key; 0: no default limit."""
    rate_limit_failed_auth_per_minute: int | None = None
    """Requests per minute per client address whose API key is refused; 0: not limited. Unset:
    :data:`FAILED_AUTH_PER_MINUTE`, or the default limit if that is lower (so off when it is 0)."""
    rate_limit_store: str = "memory"
    """Where the counts are kept: ``memory`` (per process) or a ``redis://`` URL (shared)."""
    redis_url: str | None = None
    """Redis for state every process must share (the rate-limit counts) when
    ``rate_limit_store`` is left at ``memory``."""
    workers: int = 0
    """Processes ``serve`` runs behind its port; 0: one on SQLite, one per core on PostgreSQL."""
    trusted_proxy_header: str | None = None
    """Header a trusted proxy writes the client's address into (e.g. ``X-Forwarded-For``). Unset: the
    socket peer address is the client's."""
    trusted_proxy_hops: int = 1
    """How many proxies append to ``trusted_proxy_header``: the address is the entry that many from
    the right."""
    auth_cache_seconds: float = 10.0
    """How long a process trusts an API key it has checked before looking it up again. Revoking
    or changing the tenant's rate limit through the same process takes effect at once; other
    processes notice within this time. 0: every request looks its key up."""
    auth_refused_cache_seconds: float = 10.0
    """How long a process remembers a refused API key, so repeating it costs no lookup; 0: off."""
    cors_origins: tuple[str, ...] = ()
    log_level: str = "INFO"
    log_json: bool = True
    artifact_poll_seconds: float = 5.0
    """How often the API checks ``models/CURRENT`` for a newer version; 0 disables polling."""
    keep_versions: int = 5
    """How many artifact versions the re-index job keeps on disk."""
    preload_models: bool = True
    """Load the embedding model in the background at start, so the first request does not wait."""
    db_pool_size: int = 10
    db_echo: bool = False
    interaction_weights: str = "view=1,click=2,add_to_cart=3,purchase=4,like=4,rating=1"
    """Confidence of each positive interaction type for the recommender, ``type=weight,...``; a
    rating's weight is also scaled by its value (see docs/recommendations.md). Dislikes never count
    as positives."""
    llm_base_url: str | None = None
    """OpenAI-compatible API root, e.g. ``http://127.0.0.1:8080/v1`` (``/chat/completions`` is appended).
    Unset: chat answers 503; system messages still render."""
    llm_model: str | None = None
    """Model name sent with every chat request; required with ``llm_base_url``."""
    llm_api_key: str | None = field(default=None, repr=False)
    """Bearer token for the LLM endpoint; never logged nor shown in ``repr``."""
    llm_timeout_seconds: float = 60.0
    """Read/write/pool timeout of one upstream call (for streams: between two chunks)."""
    llm_connect_timeout_seconds: float = 5.0
    llm_max_retries: int = 2
    """Retries after a 429, a 5xx or a connection failure (never once a stream has started)."""
    llm_backoff_base_seconds: float = 0.5
    llm_backoff_cap_seconds: float = 8.0
    """Longest wait between two attempts; a larger upstream ``Retry-After`` is not waited for."""
    llm_max_concurrency: int = 16
    """Upstream calls in flight at once per process; further calls wait for a slot."""
    llm_extract_memories: bool = True
    """With an LLM configured, extract memories from new turns with it, off the request path (turns
    are queued in ``memory_extractions``); false: the rules extract inline, as without an LLM."""
    llm_extract_attempts: int = 3
    """LLM attempts per turn before the rules extract it instead (the failure stays recorded)."""
    llm_extract_retry_seconds: float = 10.0
    """Wait before a turn's second LLM attempt; doubles per attempt, at most 10 minutes."""
    llm_extract_poll_seconds: float = 1.0
    """How often the extraction worker looks for due turns (queued by another process, or retries)."""
    llm_extract_concurrency: int = 4
    """LLM extraction calls the worker makes at once (1: one turn after another, in queue order)."""
    llm_extract_worker: str = "process"
    """Where LLM memory extraction runs: ``process`` (``serve`` starts ``persona-api worker`` beside the
    API and restarts it if it dies), ``inline`` (a task inside the API process) or ``external``
    (run ``persona-api worker`` yourself, e.g. as its own container)."""
    embed_runtime: str = "onnx"
    """What runs the embedding model: ``onnx`` (ONNX Runtime, exported from the packaged weights at
    load; about half the time per sentence) or ``torch``. Both give the same vectors."""
    llm_extract_nice: int = 10
    """Niceness ``persona-api worker`` adds to its own scheduling priority (0-19): when the API and
    the worker both want the CPU, the API's requests go first; idle cores still go to the worker."""
    webhook_sender: str = "process"
    """Where webhook deliveries are sent from: ``process`` (``serve`` starts ``persona-api webhooks``
    beside the API and restarts it if it dies) or ``external`` (run it yourself)."""
    webhook_timeout_seconds: float = 10.0
    """Seconds a receiver has to answer a delivery before it counts as failed."""
    webhook_max_retry_seconds: float = 1800.0
    """Longest wait between two attempts of a delivery (the waits double from 5 s, with jitter)."""
    webhook_give_up_hours: float = 24.0
    """Hours after an event was written that its deliveries stop being retried."""
    webhook_allow_private_urls: bool = False
    """Allow webhook URLs that resolve to loopback, private or link-local addresses."""
    console_secret: str | None = None
    """Key that signs the web console's session cookies. Unset: derived from the admin token."""
    console_session_hours: float = 8.0
    """How long a console sign-in lasts."""
    console_reindex: bool = False
    """Whether the console's models page may start ``persona-api reindex`` (admin only)."""

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def worker_count(self) -> int:
        """``workers`` with its default resolved (SQLite takes one writer process at a time well)."""
        if self.workers:
            return self.workers
        return 1 if self.is_sqlite else max(1, os.cpu_count() or 1)

    @property
    def counter_store(self) -> str:
        """Where rate-limit counts live: ``rate_limit_store``, else ``redis_url``, else memory."""
        if self.rate_limit_store == "memory" and self.redis_url:
            return self.redis_url
        return self.rate_limit_store

    @property
    def failed_auth_per_minute(self) -> int:
        """The limit of requests with refused keys per client address, with the default resolved."""
        if self.rate_limit_failed_auth_per_minute is not None:
            return self.rate_limit_failed_auth_per_minute
        return min(FAILED_AUTH_PER_MINUTE, self.rate_limit_per_minute)

    @property
    def admin_token_file(self) -> Path:
        return self.var_dir / "admin_token"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (used by the CLI flags and tests)."""
        return replace(self, **changes)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
# Variables that belong to the test suite or to the service's clients (the typed client and
# `persona-api mcp` read the last two), not to the service.
_NOT_SETTINGS = {"PERSONA_TEST_DATABASE_URL", "PERSONA_BASE_URL", "PERSONA_API_KEY"}
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


def service_target(environ: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """Where a client of a running service sends requests, and with which key:
    ``PERSONA_BASE_URL`` (default :data:`DEFAULT_BASE_URL`) and ``PERSONA_API_KEY``."""
    env = os.environ if environ is None else environ
    return env.get("PERSONA_BASE_URL") or DEFAULT_BASE_URL, env.get("PERSONA_API_KEY") or None


def _parse(name: str, raw: str, kind: Any) -> Any:
    env = f"PERSONA_{name.upper()}"
    try:
        if kind in (int, "int"):
            return int(raw)
        if kind in (float, "float"):
            return float(raw)
        if kind in (bool, "bool"):
            low = raw.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError(raw)
        if kind in (Path, "Path"):
            return Path(raw)
        if kind in ("tuple[str, ...]",):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if kind in ("str | None",):
            return raw or None
        if kind in ("int | None",):
            return int(raw) if raw.strip() else None
        return raw
    except ValueError:
        raise ConfigurationError(f"{env}={raw!r} is not a valid {kind}") from None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``environ`` (default ``os.environ``) and validate them."""
    env = os.environ if environ is None else environ
    known = {f.name: f.type for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, raw in env.items():
        if not key.startswith("PERSONA_") or key in _NOT_SETTINGS:
            continue
        name = key.removeprefix("PERSONA_").lower()
        if name not in known:
            raise ConfigurationError(f"unknown setting {key}; see docs/configuration.md")
        values[name] = _parse(name, raw, known[name])
    settings = Settings(**values)
    _validate(settings)
    return settings


def _validate(s: Settings) -> None:
    if not (s.database_url.startswith("sqlite+aiosqlite") or s.database_url.startswith("postgresql+asyncpg")):
        raise ConfigurationError(
            "PERSONA_DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+asyncpg://"
        )
    if not 0 < s.port < 65536:
        raise ConfigurationError("PERSONA_PORT must be between 1 and 65535")
    if s.max_body_bytes < 1024:
        raise ConfigurationError("PERSONA_MAX_BODY_BYTES must be at least 1024")
    _validate_rate_limits(s)
    if s.keep_versions < 1:
        raise ConfigurationError("PERSONA_KEEP_VERSIONS must be >= 1")
    if s.auth_cache_seconds < 0:
        raise ConfigurationError("PERSONA_AUTH_CACHE_SECONDS must be >= 0")
    if s.artifact_poll_seconds < 0:
        raise ConfigurationError("PERSONA_ARTIFACT_POLL_SECONDS must be >= 0")
    if s.admin_token is not None and len(s.admin_token) < 16:
        raise ConfigurationError("PERSONA_ADMIN_TOKEN must be at least 16 characters")
    try:
        parse_interaction_weights(s.interaction_weights)
    except ValueError as exc:
        raise ConfigurationError(f"PERSONA_INTERACTION_WEIGHTS: {exc}") from None
    _validate_llm(s)
    if s.webhook_sender not in ("process", "external"):
        raise ConfigurationError("PERSONA_WEBHOOK_SENDER must be process or external")
    if s.webhook_timeout_seconds <= 0 or s.webhook_max_retry_seconds < 1 or s.webhook_give_up_hours <= 0:
        raise ConfigurationError(
            "PERSONA_WEBHOOK_TIMEOUT_SECONDS and PERSONA_WEBHOOK_GIVE_UP_HOURS must be above 0, "
            "PERSONA_WEBHOOK_MAX_RETRY_SECONDS at least 1"
        )
    if s.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigurationError("PERSONA_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")


_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def _validate_rate_limits(s: Settings) -> None:
    if s.rate_limit_per_minute < 0 or (s.rate_limit_failed_auth_per_minute or 0) < 0:
        raise ConfigurationError(
            "PERSONA_RATE_LIMIT_PER_MINUTE and PERSONA_RATE_LIMIT_FAILED_AUTH_PER_MINUTE must be >= 0"
        )
    if s.workers < 0:
        raise ConfigurationError("PERSONA_WORKERS must be >= 0 (0: the default for the database)")
    if s.counter_store != "memory" and not s.counter_store.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigurationError(
            "PERSONA_RATE_LIMIT_STORE must be memory or a redis://, rediss:// or unix:// URL "
            "(and PERSONA_REDIS_URL such a URL)"
        )
    if s.trusted_proxy_header is not None and not _HEADER_NAME.match(s.trusted_proxy_header):
        raise ConfigurationError("PERSONA_TRUSTED_PROXY_HEADER must be a header name, e.g. X-Forwarded-For")
    if not 1 <= s.trusted_proxy_hops <= 10:
        raise ConfigurationError("PERSONA_TRUSTED_PROXY_HOPS must be from 1 to 10")
    if s.auth_refused_cache_seconds < 0:
        raise ConfigurationError("PERSONA_AUTH_REFUSED_CACHE_SECONDS must be >= 0")


def _validate_llm(s: Settings) -> None:
    if s.llm_extract_worker not in EXTRACTION_WORKERS:
        raise ConfigurationError("PERSONA_LLM_EXTRACT_WORKER must be process, inline or external")
    if s.llm_extract_concurrency < 1:
        raise ConfigurationError("PERSONA_LLM_EXTRACT_CONCURRENCY must be >= 1")
    if s.embed_runtime not in ("onnx", "torch"):
        raise ConfigurationError("PERSONA_EMBED_RUNTIME must be onnx or torch")
    if not 0 <= s.llm_extract_nice <= 19:
        raise ConfigurationError("PERSONA_LLM_EXTRACT_NICE must be from 0 to 19")
    if s.llm_base_url is not None:
        if not s.llm_base_url.startswith(("http://", "https://")):
            raise ConfigurationError("PERSONA_LLM_BASE_URL must start with http:// or https://")
        if not s.llm_model:
            raise ConfigurationError("PERSONA_LLM_MODEL is required when PERSONA_LLM_BASE_URL is set")
    if s.llm_timeout_seconds <= 0 or s.llm_connect_timeout_seconds <= 0:
        raise ConfigurationError(
            "PERSONA_LLM_TIMEOUT_SECONDS and PERSONA_LLM_CONNECT_TIMEOUT_SECONDS must be > 0"
        )
    if s.llm_max_retries < 0:
        raise ConfigurationError("PERSONA_LLM_MAX_RETRIES must be >= 0")
    if not 0 <= s.llm_backoff_base_seconds <= s.llm_backoff_cap_seconds:
        raise ConfigurationError(
            "PERSONA_LLM_BACKOFF_BASE_SECONDS must be in [0, PERSONA_LLM_BACKOFF_CAP_SECONDS]"
        )
    if s.llm_max_concurrency < 1:
        raise ConfigurationError("PERSONA_LLM_MAX_CONCURRENCY must be >= 1")
    if s.llm_extract_attempts < 1:
        raise ConfigurationError("PERSONA_LLM_EXTRACT_ATTEMPTS must be >= 1")
    if s.llm_extract_retry_seconds < 0 or s.llm_extract_poll_seconds <= 0:
        raise ConfigurationError(
            "PERSONA_LLM_EXTRACT_RETRY_SECONDS must be >= 0 and PERSONA_LLM_EXTRACT_POLL_SECONDS > 0"
        )


INTERACTION_TYPES = ("view", "click", "add_to_cart", "purchase", "rating", "like", "dislike")
POSITIVE_TYPES = tuple(t for t in INTERACTION_TYPES if t != "dislike")


def parse_interaction_weights(spec: str) -> dict[str, float]:
    """``"view=1,purchase=4"`` -> weights of every positive type (unnamed types keep weight 1)."""
    weights = dict.fromkeys(POSITIVE_TYPES, 1.0)
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kind, sep, raw = part.partition("=")
        kind = kind.strip()
        if not sep or kind not in POSITIVE_TYPES:
            raise ValueError(f"{part!r} is not <type>=<weight> with a type among {', '.join(POSITIVE_TYPES)}")
        value = float(raw)
        if not 0 < value <= 1000:
            raise ValueError(f"weight of {kind} must be in (0, 1000]")
        weights[kind] = value
    return weights


def apply_process_defaults() -> None:
    """Environment defaults for the libraries the service loads: the embedding model never goes to
    a model hub, and BLAS stays single-threaded (implicit and FAISS run their own threads)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
