"""What the client knows of one operation (written into _resources.py by the generator)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OperationSpec:
    operation_id: str
    method: str
    path: str
    repeatable: bool
    body_is_list: bool
    path_params: tuple[str, ...]
    chunk_field: str | None = None
    """An upload's list of records (sent in chunks)."""
    chunk_records: int = 0
    """Records per chunk."""
