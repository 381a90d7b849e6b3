"""Path parameters, with the bounds the OpenAPI document states: an id in a path is the client's
own id (1 to 128 characters); a longer one is a 422, an unknown one a 404."""

from __future__ import annotations

from typing import Annotated

from litestar.params import PathParameter

IdPath = Annotated[str, PathParameter(min_length=1, max_length=128, description="The client's own id.")]
