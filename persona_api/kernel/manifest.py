"""The manifest of an artifact version: what it contains and how it was made.

Stored as ``<version>/manifest.json`` and decoded with msgspec against the exact schema, so a
truncated, hand-edited or foreign file is an :class:`ArtifactError`, never a half-read version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import msgspec

from persona_api.errors import ArtifactError
from persona_api.kernel.durable import file_sha256

MetricValue = float | int | str

MANIFEST_NAME = "manifest.json"
FORMAT = 1
SCRUB_PREFIX = ".scrub-"
"""Scratch files of an in-place rewrite at the top of a version folder; never checksummed."""


class Manifest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a version contains and how it was made."""

    version: str
    created_at: str
    """ISO 8601 UTC timestamp of the publication."""
    code_version: str
    input_rows: dict[str, int]
    """Rows read from the database per table, e.g. ``{"tenants": 2, "users": 3}``."""
    files: dict[str, str]
    """SHA-256 of every file, keyed by its POSIX path relative to the version folder."""
    metrics: dict[str, dict[str, MetricValue]]
    """Per-step metrics, keyed by step name."""
    steps: list[str]
    """The steps that produced this version, in the order they ran."""

    def to_json(self) -> str:
        document = {"format": FORMAT, **msgspec.to_builtins(self)}
        # Sorted and indented: manifests are read by people diffing two versions.
        return json.dumps(document, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        """Parse and validate a manifest; raises ``ArtifactError`` on any malformed content."""
        try:
            document = msgspec.json.decode(text, type=_Document)
        except msgspec.DecodeError as exc:
            raise ArtifactError(f"malformed manifest: {exc}") from exc
        return document.manifest


class _Document(Manifest, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The file's content: the manifest and its format number."""

    format: Literal[1]

    @property
    def manifest(self) -> Manifest:
        fields = msgspec.structs.asdict(self)
        del fields["format"]
        return Manifest(**fields)


def checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file below ``folder`` but the manifest and a rewrite's scratch files."""
    sums: dict[str, str] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            raise ArtifactError(f"symlinks are not allowed in artifacts: {p}")
        rel = p.relative_to(folder)
        if p.is_file() and rel.as_posix() != MANIFEST_NAME and not rel.parts[0].startswith(SCRUB_PREFIX):
            sums[rel.as_posix()] = file_sha256(p)
    return sums
