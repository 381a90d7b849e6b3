"""The domain exception tree. No HTTP here: ``persona_api.http.problems`` maps each class to a
problem+json response with a stable ``type``.

PersonaError
├── ConfigurationError        bad settings (raised at start-up, never over HTTP)
├── NotFound                  404  (also: another tenant's resource)
├── Conflict                  409
├── InvalidInput              422  (field-level problems the schema cannot express)
├── PayloadTooLarge           413  (batch bounds)
├── Unauthorized              401
├── Forbidden                 403
├── NotReady                  503 with Retry-After (an index or artifact is not loaded yet)
├── LLMNotConfigured          503 (no PERSONA_LLM_BASE_URL / PERSONA_LLM_MODEL; says how to set them)
├── UpstreamError             502 (the LLM answered with an error, or could not be reached)
├── UpstreamTimeout           504 (the LLM did not answer within PERSONA_LLM_TIMEOUT_SECONDS)
└── ArtifactError             a version could not be built, published or loaded
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    """One offending field: a JSON-path-like location and what is wrong with it."""

    field: str
    message: str


class PersonaError(Exception):
    """Base of every error the service raises on purpose."""

    code: str = "error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ConfigurationError(PersonaError):
    code = "configuration"


class NotFound(PersonaError):
    code = "not-found"


class Conflict(PersonaError):
    code = "conflict"


class InvalidInput(PersonaError):
    code = "invalid-input"

    def __init__(self, detail: str, problems: Sequence[FieldProblem] = ()) -> None:
        super().__init__(detail)
        self.problems = tuple(problems)


class MalformedRequest(InvalidInput):
    """Input no route accepts (NUL characters, absurd nesting): a 400, before any handler runs."""

    code = "malformed-request"


class PayloadTooLarge(PersonaError):
    code = "payload-too-large"


class Unauthorized(PersonaError):
    code = "unauthorized"


class Forbidden(PersonaError):
    code = "forbidden"


class NotReady(PersonaError):
    code = "not-ready"

    def __init__(self, detail: str, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class LLMNotConfigured(PersonaError):
    code = "llm-not-configured"


class UpstreamError(PersonaError):
    code = "upstream-error"

    def __init__(self, detail: str, upstream_status: int | None = None) -> None:
        super().__init__(detail)
        self.upstream_status = upstream_status


class UpstreamTimeout(PersonaError):
    code = "upstream-timeout"


class ArtifactError(PersonaError):
    code = "artifact"
