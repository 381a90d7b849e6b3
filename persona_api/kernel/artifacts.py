"""The on-disk artifact store: immutable, versioned folders under ``models/`` and a ``CURRENT`` pointer.

Layout::

    models/
      CURRENT                      one line: the served version
      .reindex.lock                flock()ed by the one running re-index job
      .staging-<version>/          a version being written (never read by the API)
      <version>/manifest.json      a published version; the manifest is written last
      <version>/<step>/...

A version appears under its final name only through one ``os.rename`` of a fully written and
fsynced staging folder, and ``CURRENT`` changes only through one ``os.replace``, so a crash at any
point leaves either the old state or the new one, plus garbage that ``cleanup_stale`` removes.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from persona_api.errors import ArtifactError
from persona_api.kernel.manifest import MANIFEST_NAME, Manifest, MetricValue

CURRENT_NAME = "CURRENT"
LOCK_NAME = ".reindex.lock"
_STAGING_PREFIX = ".staging-"
_TRASH_PREFIX = ".trash-"
_TIME_FORMAT = "%Y%m%dT%H%M%S%fZ"
_VERSION_RE = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{4}$")

log = logging.getLogger("persona_api.artifacts")


@dataclass(frozen=True)
class StagedVersion:
    """A version being written: everything under ``path`` is published by ``ArtifactStore.publish``."""

    version: str
    path: Path


class ArtifactStore:
    """Versioned artifacts under ``root``; keeps the newest ``keep`` versions after each publish."""

    def __init__(self, root: Path, *, keep: int) -> None:
        if keep < 1:
            raise ValueError("keep must be >= 1")
        self.root = root
        self.keep = keep

    # -- reading ---------------------------------------------------------------------------

    def current_version(self) -> str | None:
        """The version ``CURRENT`` points at, or None if there is none or it is not published."""
        try:
            version = (self.root / CURRENT_NAME).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        if not _VERSION_RE.match(version) or not (self.root / version / MANIFEST_NAME).is_file():
            return None
        return version

    def versions(self) -> list[str]:
        """Published versions, oldest first (version ids sort by creation time)."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if _VERSION_RE.match(p.name) and (p / MANIFEST_NAME).is_file()
        )

    def path(self, version: str) -> Path:
        """The folder of ``version``; the name is validated so a bad pointer cannot escape ``root``."""
        if not _VERSION_RE.match(version):
            raise ArtifactError(f"invalid artifact version {version!r}")
        return self.root / version

    def manifest(self, version: str) -> Manifest:
        try:
            text = (self.path(version) / MANIFEST_NAME).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ArtifactError(f"artifact version {version} is not published") from None
        return Manifest.from_json(text)

    def verify(self, version: str) -> Manifest:
        """Recompute every checksum of ``version``; raise ``ArtifactError`` on any difference."""
        manifest = self.manifest(version)
        actual = _checksums(self.path(version))
        if actual != manifest.files:
            changed = sorted(
                k for k in actual.keys() | manifest.files.keys() if actual.get(k) != manifest.files.get(k)
            )
            raise ArtifactError(f"artifact version {version} fails verification: {', '.join(changed)}")
        return manifest

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the exclusive re-index lock; raises ``ArtifactError`` if another job holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ArtifactError("another re-index job is running") from None
            # The pid is only for a human looking at a stuck job; the kernel releases the lock
            # when the holder dies, even by SIGKILL.
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            os.close(fd)

    def cleanup_stale(self) -> list[str]:
        """Remove staging and trash folders left by crashed jobs. Call only while holding ``lock()``."""
        if not self.root.is_dir():
            return []
        stale = [
            p
            for p in self.root.iterdir()
            if p.name.startswith((_STAGING_PREFIX, _TRASH_PREFIX)) and p.is_dir()
        ]
        for p in stale:
            shutil.rmtree(p)
            log.info("artifacts.stale_removed", extra={"path": str(p)})
        return sorted(p.name for p in stale)

    @contextmanager
    def stage(self) -> Iterator[StagedVersion]:
        """A fresh staging folder; whatever is not published by the end of the block is removed."""
        self.root.mkdir(parents=True, exist_ok=True)
        version = _new_version(after=max(self.versions(), default=None))
        staged = StagedVersion(version, self.root / f"{_STAGING_PREFIX}{version}")
        staged.path.mkdir()
        try:
            yield staged
        finally:
            # Also on KeyboardInterrupt and cancellation: a half-written folder is never kept.
            if staged.path.exists():
                shutil.rmtree(staged.path)

    def publish(
        self,
        staged: StagedVersion,
        *,
        code_version: str,
        input_rows: Mapping[str, int],
        metrics: Mapping[str, Mapping[str, MetricValue]],
        steps: Sequence[str],
    ) -> Manifest:
        """Seal ``staged`` with a manifest, move it into place, switch ``CURRENT`` to it, prune."""
        if staged.path.parent != self.root or not staged.path.is_dir():
            raise ArtifactError(f"{staged.path} is not a staging folder of {self.root}")
        manifest = Manifest(
            version=staged.version,
            created_at=datetime.now(UTC).isoformat(),
            code_version=code_version,
            input_rows=dict(input_rows),
            files=_checksums(staged.path),
            metrics={step: dict(values) for step, values in metrics.items()},
            steps=list(steps),
        )
        _write_synced(staged.path / MANIFEST_NAME, manifest.to_json())
        _fsync_tree(staged.path)
        final = self.root / staged.version
        os.rename(staged.path, final)
        switched = False
        try:
            _fsync_dir(self.root)
            pointer = self.root / f"{CURRENT_NAME}.tmp"
            _write_synced(pointer, staged.version + "\n")
            os.replace(pointer, self.root / CURRENT_NAME)
            switched = True
            _fsync_dir(self.root)
        except BaseException:
            # Before the switch CURRENT still names the old version, so drop the new folder and a
            # failed publish leaves nothing behind; after it, the folder is live and must stay.
            if not switched:
                shutil.rmtree(final, ignore_errors=True)
            raise
        log.info("artifacts.published", extra={"version": staged.version, "files": len(manifest.files)})
        try:
            self.prune()
        except OSError:
            # The new version is live; a leftover old folder is only disk space.
            log.warning("artifacts.prune_failed", extra={"version": staged.version}, exc_info=True)
        return manifest

    def prune(self) -> list[str]:
        """Delete all but the newest ``keep`` versions, never the current one; returns the deleted."""
        current = self.current_version()
        doomed = [v for v in self.versions()[: -self.keep] if v != current]
        for version in doomed:
            # Rename first: a half-deleted folder must not look like a published version.
            trash = self.root / f"{_TRASH_PREFIX}{version}"
            os.rename(self.root / version, trash)
            shutil.rmtree(trash)
            log.info("artifacts.pruned", extra={"version": version})
        return doomed


def _new_version(*, after: str | None) -> str:
    """A sortable id ``YYYYMMDDTHHMMSSffffffZ-xxxx``, later than ``after`` even if the clock stepped back."""
    now = datetime.now(UTC)
    if after is not None:
        previous = datetime.strptime(after.split("-")[0], _TIME_FORMAT).replace(tzinfo=UTC)
        now = max(now, previous + timedelta(microseconds=1))
    return f"{now.strftime(_TIME_FORMAT)}-{secrets.token_hex(2)}"


def _checksums(folder: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink():
            raise ArtifactError(f"symlinks are not allowed in artifacts: {p}")
        rel = p.relative_to(folder).as_posix()
        if p.is_file() and rel != MANIFEST_NAME:
            with p.open("rb") as fh:
                sums[rel] = hashlib.file_digest(fh, "sha256").hexdigest()
    return sums


def _write_synced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """fsync every file and folder below ``root`` (bottom-up), so the rename publishes durable data."""
    for dirpath, _dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))
