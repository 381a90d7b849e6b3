"""One exception tree, built from the API's problem+json bodies."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec


class PersonaError(Exception):
    """Everything this client raises."""


class APIConnectionError(PersonaError):
    """The request did not get an answer: refused, reset, DNS, TLS..."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class APITimeoutError(APIConnectionError):
    """No answer within the client's ``timeout``."""


class FieldError(msgspec.Struct, kw_only=True):
    field: str
    message: str
    source: str | None = None


class _Problem(msgspec.Struct, kw_only=True):
    type: str = "about:blank"
    title: str = ""
    status: int = 0
    detail: str = ""
    request_id: str | None = None
    errors: list[FieldError] = msgspec.field(default_factory=list)


class APIStatusError(PersonaError):
    """The API answered with an error status; its problem's fields are attributes."""

    def __init__(self, response: httpx.Response) -> None:
        try:
            problem = msgspec.json.decode(response.content, type=_Problem)
        except (msgspec.DecodeError, msgspec.ValidationError):
            problem = _Problem(
                status=response.status_code, title=response.reason_phrase, detail=response.text[:500]
            )
        self.response = response
        self.status: int = response.status_code
        self.type: str = problem.type
        self.title: str = problem.title
        self.detail: str = problem.detail
        self.request_id: str | None = problem.request_id or response.headers.get("x-request-id")
        self.errors: list[FieldError] = problem.errors
        super().__init__(
            f"{self.status} {self.title}: {self.detail}"
            + (f" (request {self.request_id})" if self.request_id else "")
        )

    @property
    def code(self) -> str:
        """The problem type's last part, e.g. ``not-found`` or ``database-unavailable``."""
        return self.type.rsplit(":", 1)[-1]


class BadRequestError(APIStatusError):
    """400"""


class AuthenticationError(APIStatusError):
    """401"""


class PermissionDeniedError(APIStatusError):
    """403"""


class NotFoundError(APIStatusError):
    """404"""


class ConflictError(APIStatusError):
    """409"""


class PayloadTooLargeError(APIStatusError):
    """413"""


class UnprocessableEntityError(APIStatusError):
    """422"""


class RateLimitError(APIStatusError):
    """429; ``retry_after`` is the server's ``Retry-After`` in seconds."""

    @property
    def retry_after(self) -> float | None:
        return retry_after(self.response)


class InternalServerError(APIStatusError):
    """5xx (502 upstream failure and 504 upstream timeout included)."""


class ServiceUnavailableError(InternalServerError):
    """503: not ready, the database unavailable or busy, the LLM not configured."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def status_error(response: httpx.Response) -> APIStatusError:
    kind = _BY_STATUS.get(response.status_code)
    if kind is None:
        kind = InternalServerError if response.status_code >= 500 else APIStatusError
    return kind(response)


def retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (the delta form; the API never sends a date)."""
    value: Any = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
