"""Erasure in the artifacts: rewriting every kept version's files without some deleted users.

Each trained capability knows which of its files name users and how to write them without some
(its :class:`Scrubber`, the ``scrub`` method of its re-index step); the kernel only drives it. A
scrubber writes replacement files into scratch space and names them with a :class:`FileReplacer`;
:class:`VersionEdit` then puts them in place and reseals the manifest so that ``verify`` passes:

1. every new file is written and fsynced under ``<version>/.scrub-<token>/``;
2. a journal (``<version>/.scrub-journal.json``: which scratch file replaces which file, and the
   manifest's new checksums) is written and fsynced;
3. each file is replaced with one ``os.replace``, then the manifest, then the journal is removed.

A crash after step 2 leaves a journal that :func:`recover` rolls forward; before it, only scratch
space, which it removes. Both run under the store's exclusive ``scrub_lock``, and the API verifies
and loads a version under the shared one, so no reader sees a version half rewritten.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import msgspec

from persona_api.kernel.artifacts import ArtifactStore
from persona_api.kernel.durable import file_sha256, fsync_dir, fsync_tree, write_synced
from persona_api.kernel.manifest import MANIFEST_NAME, SCRUB_PREFIX, Manifest

JOURNAL_NAME = f"{SCRUB_PREFIX}journal.json"

log = logging.getLogger("persona_api.artifacts")


@dataclass(frozen=True)
class ErasedUsers:
    """The users to remove, by tenant: their ``users.id`` row ids (artifacts name users by them)."""

    by_tenant: Mapping[str, frozenset[int]]

    def __bool__(self) -> bool:
        return any(self.by_tenant.values())


class FileReplacer(Protocol):
    """What a scrubber uses to change files: new content goes to scratch space first."""

    def scratch(self) -> Path:
        """A fresh empty folder on the version's file system for new files."""
        ...

    def replace(self, target: Path, new: Path) -> None:
        """Put ``new`` (a file written under :meth:`scratch`) in ``target``'s place."""
        ...

    def remove(self, target: Path) -> None:
        """Delete ``target`` (for a file that cannot be read, so cannot be rewritten)."""
        ...


@runtime_checkable
class Scrubber(Protocol):
    """A re-index step that can remove users from the files it wrote under ``<version>/<name>/``."""

    @property
    def name(self) -> str: ...

    def scrub(self, folder: Path, erased: ErasedUsers, files: FileReplacer) -> None:
        """Rewrite (through ``files``) each file under ``folder`` that names one of ``erased``'s
        users; leave the others alone. Blocking; runs in a worker thread."""
        ...


def scrubbers(steps: Iterable[object]) -> list[Scrubber]:
    """The steps of a registry that can scrub their files."""
    return [step for step in steps if isinstance(step, Scrubber)]


class _Journal(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    replace: dict[str, str]
    """Target -> scratch file, both relative to the version folder."""
    remove: list[str]
    files: dict[str, str] | None
    """The manifest's checksums once applied (None for a staging folder: it has no manifest)."""


@dataclass
class VersionEdit:
    """The replacements of one version folder, applied by :meth:`commit` (see the module doc)."""

    folder: Path
    sealed: bool = True
    """False for a staging folder, whose manifest is written at publication."""
    _scratch: Path | None = field(default=None, init=False)
    _replace: dict[Path, Path] = field(default_factory=dict, init=False)
    _remove: set[Path] = field(default_factory=set, init=False)

    def scratch(self) -> Path:
        if self._scratch is None:
            self._scratch = self.folder / f"{SCRUB_PREFIX}{secrets.token_hex(4)}"
            self._scratch.mkdir()
        fresh = self._scratch / str(len(list(self._scratch.iterdir())))
        fresh.mkdir()
        return fresh

    def replace(self, target: Path, new: Path) -> None:
        self._check(target)
        if self._scratch is None or not new.is_relative_to(self._scratch):
            raise ValueError(f"{new} was not written under this edit's scratch space")
        self._replace[target] = new

    def remove(self, target: Path) -> None:
        self._check(target)
        self._remove.add(target)

    def commit(self) -> list[str]:
        """Apply the replacements; returns the files changed, relative to the folder."""
        try:
            if not self._replace and not self._remove:
                return []
            if self._scratch is not None:
                fsync_tree(self._scratch)
            files: dict[str, str] | None = None
            if self.sealed:
                files = dict(_manifest(self.folder).files)
                for target, new in self._replace.items():
                    files[self._rel(target)] = file_sha256(new)
                for target in self._remove:
                    files.pop(self._rel(target), None)
            journal = _Journal(
                replace={self._rel(t): self._rel(n) for t, n in self._replace.items()},
                remove=sorted(self._rel(t) for t in self._remove),
                files=files,
            )
            _write_atomically(self.folder / JOURNAL_NAME, msgspec.json.encode(journal).decode())
            _apply(self.folder, journal)
            return sorted([*journal.replace, *journal.remove])
        finally:
            # Once the journal is written, recovery needs the scratch files it names.
            if self._scratch is not None and not (self.folder / JOURNAL_NAME).exists():
                shutil.rmtree(self._scratch, ignore_errors=True)

    def _check(self, target: Path) -> None:
        if not target.is_relative_to(self.folder) or target.name == MANIFEST_NAME:
            raise ValueError(f"{target} is not a file of {self.folder}")

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.folder).as_posix()


def recover(folder: Path) -> bool:
    """Finish or discard an interrupted edit of ``folder``; True if a journal was rolled forward.

    Call with the store's exclusive ``scrub_lock`` held.
    """
    journal_path = folder / JOURNAL_NAME
    rolled = False
    if journal_path.is_file():
        journal = msgspec.json.decode(journal_path.read_bytes(), type=_Journal)
        _apply(folder, journal)
        log.warning("artifacts.scrub_recovered", extra={"folder": str(folder)})
        rolled = True
    for leftover in folder.glob(f"{SCRUB_PREFIX}*"):
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()
    return rolled


def _apply(folder: Path, journal: _Journal) -> None:
    """Steps 3 of the module doc; idempotent, so :func:`recover` may run it again."""
    touched = {folder}
    for target, new in journal.replace.items():
        if (folder / new).exists():
            os.replace(folder / new, folder / target)
        touched.add((folder / target).parent)
    for target in journal.remove:
        (folder / target).unlink(missing_ok=True)
        touched.add((folder / target).parent)
    for path in touched:
        fsync_dir(path)
    if journal.files is not None:
        manifest = msgspec.structs.replace(_manifest(folder), files=journal.files)
        _write_atomically(folder / MANIFEST_NAME, manifest.to_json())
    (folder / JOURNAL_NAME).unlink(missing_ok=True)
    fsync_dir(folder)


def _manifest(folder: Path) -> Manifest:
    return Manifest.from_json((folder / MANIFEST_NAME).read_bytes())


def _write_atomically(path: Path, text: str) -> None:
    temp = path.parent / f"{SCRUB_PREFIX}{secrets.token_hex(4)}.tmp"
    write_synced(temp, text)
    os.replace(temp, path)
    fsync_dir(path.parent)


def scrub_folder(
    folder: Path, scrubbers: Iterable[Scrubber], erased: ErasedUsers, *, sealed: bool
) -> list[str]:
    """Run every scrubber over one version (or staging) folder; returns the files changed."""
    edit = VersionEdit(folder, sealed=sealed)
    for scrubber in scrubbers:
        step_dir = folder / scrubber.name
        if step_dir.is_dir():
            scrubber.scrub(step_dir, erased, edit)
    return edit.commit()


@dataclass
class ScrubPass:
    """What :func:`scrub_versions` did."""

    changed: dict[str, list[str]] = field(default_factory=dict)
    """Files rewritten, per version."""
    scrubbed: list[str] = field(default_factory=list)
    """Every version the scrubbers went through."""
    failed: dict[str, str] = field(default_factory=dict)
    """Versions that could not be scrubbed, and why."""
    settled: bool = False
    """No version but those scrubbed exists, and no re-index job runs that could still publish a
    version read from the database before these users were deleted."""


def scrub_versions(
    store: ArtifactStore,
    scrubbers: Iterable[Scrubber],
    erased: ErasedUsers,
    *,
    skip: Iterable[str] = (),
) -> ScrubPass:
    """Scrub every version folder of ``store`` (orphans too) but ``skip``, under the exclusive
    scrub lock. Blocking; a version deleted meanwhile (pruned) is passed over."""
    scrubbers = list(scrubbers)
    result = ScrubPass()
    seen = set(skip)
    with store.scrub_lock():
        for _ in range(3):  # a job may publish while we scrub: then scrub its version too
            for version in [v for v in store.folders() if v not in seen]:
                seen.add(version)
                folder = store.path(version)
                try:
                    recover(folder)
                    changed = scrub_folder(folder, scrubbers, erased, sealed=True)
                except FileNotFoundError:
                    if folder.exists():
                        result.failed[version] = "a file vanished while it was rewritten"
                    continue
                except Exception as exc:
                    log.error("artifacts.scrub_failed", extra={"version": version}, exc_info=True)
                    result.failed[version] = repr(exc)
                    continue
                result.scrubbed.append(version)
                if changed:
                    result.changed[version] = changed
                    log.info("artifacts.scrubbed", extra={"version": version, "files": len(changed)})
            if store.job_running():
                break
            if set(store.folders()) <= seen:
                result.settled = not result.failed
                break
    return result
