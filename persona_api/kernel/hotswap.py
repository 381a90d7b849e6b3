"""Loading artifact versions into the API and swapping to newer ones without a restart.

Requests read ``ArtifactHolder.current`` once and use that snapshot for their whole duration. A new
version is loaded completely into a fresh ``LoadedArtifacts`` beside the old one, then published
with a single attribute assignment, so no request ever sees a mix of two versions or a
half-loaded one. The served version is loaded again, the same way, when erasure has rewritten its
files (its manifest changed): that is how the served artifacts drop a deleted user.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TypeVar

from persona_api.errors import NotReady
from persona_api.kernel.artifacts import ArtifactStore, Signature
from persona_api.kernel.manifest import Manifest

T = TypeVar("T")

Loader = Callable[[Path, Manifest], object]
"""Builds one in-memory component from a version folder (the folder itself, not a step's subfolder).

Runs in a worker thread; may block. Raising aborts the swap and the old version keeps serving.
"""

log = logging.getLogger("persona_api.artifacts")


class ArtifactLoaders:
    """The named loaders the API runs for every version, in registration order."""

    def __init__(self) -> None:
        self._loaders: dict[str, Loader] = {}

    def register(self, name: str, loader: Loader) -> None:
        """Add a component loader; names are unique (``ValueError`` otherwise)."""
        if name in self._loaders:
            raise ValueError(f"an artifact loader named {name!r} is already registered")
        self._loaders[name] = loader

    def names(self) -> list[str]:
        return list(self._loaders)

    def load_all(self, version_dir: Path, manifest: Manifest) -> dict[str, object]:
        return {name: loader(version_dir, manifest) for name, loader in self._loaders.items()}


@dataclass(frozen=True)
class LoadedArtifacts:
    """One fully loaded version. Immutable: a newer version is a new object."""

    version: str
    manifest: Manifest
    components: Mapping[str, object]
    signature: Signature | None = None
    """The manifest file loaded (see :meth:`ArtifactStore.signature`)."""

    def get(self, name: str, kind: type[T]) -> T:
        """The component ``name``, checked to be a ``kind``."""
        try:
            component = self.components[name]
        except KeyError:
            raise KeyError(f"no artifact component {name!r}; loaded: {sorted(self.components)}") from None
        if not isinstance(component, kind):
            raise TypeError(f"artifact component {name!r} is {type(component).__name__}, not {kind.__name__}")
        return component


class ArtifactHolder:
    """Holds the served ``LoadedArtifacts`` and replaces it when ``CURRENT`` moves."""

    def __init__(self, store: ArtifactStore, loaders: ArtifactLoaders) -> None:
        self._store = store
        self._loaders = loaders
        self._current: LoadedArtifacts | None = None
        self._failed: tuple[str, Signature | None] | None = None
        self._settled = False
        # Serialises refreshes (start-up and the watcher may overlap); readers never take it.
        self._refresh_lock = threading.Lock()

    @property
    def current(self) -> LoadedArtifacts | None:
        """The served version, or None before the first successful load. Read it once per request."""
        return self._current

    @property
    def version(self) -> str | None:
        """The served version id, for ``/readyz``."""
        current = self._current
        return None if current is None else current.version

    @property
    def store(self) -> ArtifactStore:
        return self._store

    @property
    def failed_version(self) -> str | None:
        """The newest version that failed to load (not retried until ``CURRENT`` moves again or
        the version is rewritten)."""
        return self._failed[0] if self._failed is not None else None

    @property
    def settled(self) -> bool:
        """Whether the first :meth:`refresh` has finished (loaded, found nothing, or failed):
        until then the API is not ready."""
        return self._settled

    def component(self, name: str, kind: type[T]) -> Callable[[], T | None]:
        """A reader of the served version's component ``name`` (None while it is absent or not a
        ``kind``): what a domain's runtime holds instead of the holder itself."""

        def read() -> T | None:
            loaded = self._current
            found = loaded.components.get(name) if loaded is not None else None
            return found if isinstance(found, kind) else None

        return read

    def require(self) -> LoadedArtifacts:
        """The served version; raises ``NotReady`` (503) while nothing is loaded."""
        current = self._current
        if current is None:
            raise NotReady("model artifacts are not loaded yet; run `persona-api reindex`")
        return current

    def refresh(self) -> bool:
        """Load the version ``CURRENT`` names if it is not the one served as it is on disk now;
        True if it swapped.

        Blocking (checksums and loaders): call it from a worker thread inside the API. A version
        that fails verification or loading is logged, remembered, and the old one keeps serving.
        """
        try:
            with self._refresh_lock:
                return self._refresh()
        finally:
            self._settled = True

    def _refresh(self) -> bool:
        version = self._store.current_version()
        if version is None:
            return False
        # Shared: an erasure rewriting this version's files waits, and is never seen half done.
        with self._store.scrub_lock(shared=True):
            signature = self._store.signature(version)
            served = self._current
            if (version, signature) == self._failed or (
                served is not None and (served.version, served.signature) == (version, signature)
            ):
                return False
            started = time.perf_counter()
            try:
                manifest = self._store.verify(version)
                components = self._loaders.load_all(self._store.path(version), manifest)
            except Exception as exc:
                # Files are immutable, so retrying the same version would fail the same way.
                self._failed = (version, signature)
                log.error(
                    "artifacts.load_failed",
                    extra={"version": version, "serving": self.version, "error": repr(exc)},
                    exc_info=True,
                )
                return False
        previous = self.version
        self._current = LoadedArtifacts(version, manifest, MappingProxyType(components), signature)
        self._failed = None
        log.info(
            "artifacts.loaded",
            extra={
                "version": version,
                "previous": previous,
                "components": sorted(components),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return True

    async def watch(self, interval: float, *, on_swap: Callable[[], None] | None = None) -> None:
        """Refresh every ``interval`` seconds until cancelled, calling ``on_swap`` after each new
        version; errors are logged, never raised."""
        if interval <= 0:
            raise ValueError("interval must be > 0")
        while True:
            try:
                if await asyncio.to_thread(self.refresh) and on_swap is not None:
                    on_swap()
            except Exception as exc:
                log.error("artifacts.watch_failed", extra={"error": repr(exc)}, exc_info=True)
            await asyncio.sleep(interval)
