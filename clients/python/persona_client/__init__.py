"""persona-client: the typed Python client of persona-api, sync and async.

    from persona_client import PersonaClient

    with PersonaClient(api_key="...") as client:
        client.users.create(id="alice")
        hits = client.memories.search("alice", query="where does she live?", k=5)

See docs/clients.md in the persona-api repository.
"""

from persona_client import _models as models
from persona_client._client import (
    AsyncChatStream,
    AsyncPersonaClient,
    ChatStream,
    ChatSummary,
    PersonaClient,
    StreamError,
)
from persona_client._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PersonaError,
    RateLimitError,
    ServiceUnavailableError,
    UnprocessableEntityError,
)
from persona_client._paging import AsyncPage, Page
from persona_client._resources import OPERATIONS
from persona_client._transport import NOT_GIVEN
from persona_client._version import __version__

__all__ = [
    "NOT_GIVEN",
    "OPERATIONS",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncChatStream",
    "AsyncPage",
    "AsyncPersonaClient",
    "AuthenticationError",
    "BadRequestError",
    "ChatStream",
    "ChatSummary",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "Page",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PersonaClient",
    "PersonaError",
    "RateLimitError",
    "ServiceUnavailableError",
    "StreamError",
    "UnprocessableEntityError",
    "__version__",
    "models",
]
