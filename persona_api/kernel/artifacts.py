"""The on-disk artifact store: immutable, versioned folders under ``models/`` and a ``CURRENT`` pointer.

Layout::

    models/
      CURRENT                      one line: the served version
      PUBLISHED                    every version CURRENT has named, one a line (oldest first)
      .reindex.lock                flock()ed by the one running re-index job
      .scrub.lock                  flock()ed by whoever rewrites or loads a published version
      .staging-<version>/          a version being written (never read by the API)
      <version>/manifest.json      a published version; the manifest is written last
      <version>/<step>/...

A version appears under its final name only through one ``os.rename`` of a fully written and
fsynced staging folder, and ``CURRENT`` changes only through one ``os.replace``, so a crash at any
point leaves either the old state or the new one, plus garbage that ``cleanup_stale`` removes: a
version folder that ``CURRENT`` never named (the job died between the rename and the switch) is
such garbage, and is neither listed nor kept.

Published versions change in one way only: erasure rewrites the files that held a deleted user
(:mod:`persona_api.kernel.scrub`), under the exclusive ``.scrub.lock``; the API verifies and loads a
version under the shared one, so it never sees half a rewrite.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from persona_api.errors import ArtifactError
from persona_api.kernel import locks
from persona_api.kernel.durable import fsync_dir, fsync_tree, write_synced
from persona_api.kernel.manifest import MANIFEST_NAME, Manifest, MetricValue, checksums

CURRENT_NAME = "CURRENT"
PUBLISHED_NAME = "PUBLISHED"
_STAGING_PREFIX = ".staging-"
_TRASH_PREFIX = ".trash-"
_TIME_FORMAT = "%Y%m%dT%H%M%S%fZ"
_VERSION_RE = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{4}$")

Signature = tuple[int, int, int]
"""Identity of a manifest file (inode, mtime in ns, size): it changes whenever the manifest is
replaced, which is how a process notices that another one rewrote a version it serves."""

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
        self._holding = 0

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
        """Published versions, oldest first (version ids sort by creation time): those ``CURRENT``
        names or has named. A folder it never named (an orphan of a killed job) is not one."""
        published = self._published()
        current = self.current_version()
        return [v for v in self.folders() if published is None or v in published or v == current]

    def folders(self) -> list[str]:
        """Every version folder with a manifest, orphans included, oldest first."""
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

    def signature(self, version: str) -> Signature | None:
        """The identity of ``version``'s manifest file, or None if it has none."""
        try:
            st = (self.path(version) / MANIFEST_NAME).stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def verify(self, version: str) -> Manifest:
        """Recompute every checksum of ``version``; raise ``ArtifactError`` on any difference."""
        manifest = self.manifest(version)
        actual = checksums(self.path(version))
        if actual != manifest.files:
            changed = sorted(
                k for k in actual.keys() | manifest.files.keys() if actual.get(k) != manifest.files.get(k)
            )
            raise ArtifactError(f"artifact version {version} fails verification: {', '.join(changed)}")
        return manifest

    # -- locks (kernel.locks; the count lets cleanup_stale know the lock is held here) ------

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the exclusive re-index lock; raises ``ArtifactError`` if another job holds it."""
        with locks.job_lock(self.root):
            self._holding += 1
            try:
                yield
            finally:
                self._holding -= 1

    def job_running(self) -> bool:
        """Whether some process (this one included) holds the re-index lock right now."""
        return locks.job_running(self.root)

    def scrub_lock(self, *, shared: bool = False) -> AbstractContextManager[None]:
        """Hold ``.scrub.lock``: exclusive to rewrite published versions, shared to read one whole."""
        return locks.scrub_lock(self.root, shared=shared)

    # -- writing ---------------------------------------------------------------------------

    def cleanup_stale(self) -> list[str]:
        """Remove what crashed jobs left: staging and trash folders, and versions ``CURRENT`` never
        named. Takes the re-index lock unless this store holds it already (``ArtifactError`` if
        another job holds it: its version may be about to be named)."""
        if not self.root.is_dir():
            return []
        if not self._holding:
            with self.lock():
                return self.cleanup_stale()
        self._record_published([])  # a folder from before PUBLISHED existed counts as published
        orphans = sorted(set(self.folders()) - set(self.versions()))
        for version in orphans:
            log.warning("artifacts.orphan_removed", extra={"version": version})
            self._remove(version)
        stale = [
            p
            for p in self.root.iterdir()
            if p.name.startswith((_STAGING_PREFIX, _TRASH_PREFIX)) and p.is_dir()
        ]
        for p in stale:
            shutil.rmtree(p)
            log.info("artifacts.stale_removed", extra={"path": str(p)})
        return sorted([*orphans, *(p.name for p in stale)])

    @contextmanager
    def stage(self) -> Iterator[StagedVersion]:
        """A fresh staging folder; whatever is not published by the end of the block is removed."""
        self.root.mkdir(parents=True, exist_ok=True)
        # After every folder, orphans included: a new version must sort last and never reuse a name.
        version = _new_version(after=max(self.folders(), default=None))
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
            files=checksums(staged.path),
            metrics={step: dict(values) for step, values in metrics.items()},
            steps=list(steps),
        )
        write_synced(staged.path / MANIFEST_NAME, manifest.to_json())
        fsync_tree(staged.path)
        final = self.root / staged.version
        # The version CURRENT names now is recorded before it is replaced (it may have been named
        # by hand), so a rollback to it later is never mistaken for an orphan.
        self._record_published([v for v in [self.current_version()] if v is not None])
        os.rename(staged.path, final)
        switched = False
        try:
            fsync_dir(self.root)
            pointer = self.root / f"{CURRENT_NAME}.tmp"
            write_synced(pointer, staged.version + "\n")
            os.replace(pointer, self.root / CURRENT_NAME)
            switched = True
            fsync_dir(self.root)
        except BaseException:
            # Before the switch CURRENT still names the old version, so drop the new folder and a
            # failed publish leaves nothing behind; after it, the folder is live and must stay.
            if not switched:
                shutil.rmtree(final, ignore_errors=True)
            raise
        log.info("artifacts.published", extra={"version": staged.version, "files": len(manifest.files)})
        try:
            self._record_published([staged.version])
            self.prune()
        except OSError:
            # The new version is live (CURRENT names it, so it counts as published); a leftover
            # old folder is only disk space.
            log.warning("artifacts.prune_failed", extra={"version": staged.version}, exc_info=True)
        return manifest

    def prune(self) -> list[str]:
        """Delete all but the newest ``keep`` versions, never the current one; returns the deleted."""
        current = self.current_version()
        doomed = [v for v in self.versions()[: -self.keep] if v != current]
        for version in doomed:
            self._remove(version)
            log.info("artifacts.pruned", extra={"version": version})
        if doomed:
            published = self._published() or set()
            self._write_published(sorted(published - set(doomed)))
        return doomed

    def _remove(self, version: str) -> None:
        # Rename first: a half-deleted folder must not look like a published version.
        trash = self.root / f"{_TRASH_PREFIX}{version}"
        os.rename(self.root / version, trash)
        shutil.rmtree(trash)

    # -- the PUBLISHED list ----------------------------------------------------------------

    def _published(self) -> set[str] | None:
        """Every version ``CURRENT`` has named, or None before the list existed (older stores)."""
        try:
            text = (self.root / PUBLISHED_NAME).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return {line.strip() for line in text.splitlines() if _VERSION_RE.match(line.strip())}

    def _record_published(self, versions: Sequence[str]) -> None:
        """Add ``versions`` to the list; the first call on an older store lists every folder."""
        published = self._published()
        known = set(self.folders()) if published is None else published
        if published is not None and known.issuperset(versions):
            return
        self._write_published(sorted(known | set(versions)))

    def _write_published(self, versions: Sequence[str]) -> None:
        path = self.root / f"{PUBLISHED_NAME}.tmp"
        write_synced(path, "".join(f"{v}\n" for v in versions))
        os.replace(path, self.root / PUBLISHED_NAME)
        fsync_dir(self.root)


def _new_version(*, after: str | None) -> str:
    """A sortable id ``YYYYMMDDTHHMMSSffffffZ-xxxx``, later than ``after`` even if the clock stepped back."""
    now = datetime.now(UTC)
    if after is not None:
        previous = datetime.strptime(after.split("-")[0], _TIME_FORMAT).replace(tzinfo=UTC)
        now = max(now, previous + timedelta(microseconds=1))
    return f"{now.strftime(_TIME_FORMAT)}-{secrets.token_hex(2)}"
