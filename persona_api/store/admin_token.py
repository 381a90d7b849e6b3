"""The admin token: configured, or generated once into ``<var_dir>/admin_token``.

A generated token is written to a temporary file created with mode 0600 and renamed into place,
so the token is never readable by others, not even for a moment, and a crash leaves either no
file or a whole one. Two processes starting at once agree on one token: the first rename wins
and the second reads it back.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile

from persona_api.config import Settings

log = logging.getLogger("persona_api.admin_token")


def resolve_admin_token(settings: Settings) -> str:
    """``PERSONA_ADMIN_TOKEN``, or the token in ``<PERSONA_VAR_DIR>/admin_token`` (created if absent)."""
    if settings.admin_token:
        return settings.admin_token
    path = settings.admin_token_file
    existing = _read(path)
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd, staging = tempfile.mkstemp(prefix=".admin_token.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(token + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(staging, path)  # fails if another process got there first: keep theirs
        except FileExistsError:
            theirs = _read(path)
            if theirs:
                return theirs
            os.replace(staging, path)  # an empty file (an interrupted older version): replace it
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(staging)
    log.warning("admin_token.generated", extra={"path": str(path)})
    return token


def _read(path: os.PathLike[str]) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    except FileNotFoundError:
        return ""
