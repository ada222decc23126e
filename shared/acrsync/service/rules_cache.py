"""The compiled rules a function instance evaluates against, re-read only when the stored version moves.

Separate from ``rules_admin`` so the functions never import the YAML loader or the validator.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from acrsync.domain.rules_compile import RuleIndex, compile_rules
from acrsync.errors import RulesNotApplied
from acrsync.logging import get_logger
from acrsync.ports import RuleStore

log = get_logger(__name__)


class CompiledRulesCache:
    """The compiled ``RuleIndex``, re-read only when ``store.version()`` changes, checked once per ``ttl_s``.

    A warm function instance therefore pays one cheap version read per ``ttl_s`` (not per event) and one
    full read + compile per rules change. Call it (``cache()``) where a ``Callable[[], RuleIndex]`` is wanted.

    A store at version 0 never had rules applied: that raises ``RulesNotApplied`` (retryable) on every call
    until someone applies rules — a push must not be acknowledged as "no rule matched" by a store nobody
    configured. (A store whose rules were all deleted has a version > 0 and matches nothing, as asked.)
    """

    def __init__(
        self,
        store: RuleStore,
        ttl_s: float = 30.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        location: str = "",
    ) -> None:
        self._store = store
        self._location = location
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._index: RuleIndex | None = None
        self._version = -1
        self._checked_at = float("-inf")
        self.version_reads = 0
        self.full_reads = 0

    def __call__(self) -> RuleIndex:
        return self.index()

    def index(self) -> RuleIndex:
        """The current index (compiling on first use and after a change)."""
        now = self._monotonic()
        with self._lock:
            if self._index is not None and now - self._checked_at < self._ttl_s:
                return self._index
            self.version_reads += 1
            version = self._store.version()
            if version == 0:
                raise RulesNotApplied(
                    f"ACRSYNC_STORE={self._location or '(the store)'}: no rules were ever applied",
                    location=self._location,
                    fix="apply them: `acr-sync rules apply FILE` with the same ACRSYNC_STORE",
                )
            self._checked_at = now
            if self._index is None or version != self._version:
                self._reload()
            assert self._index is not None
            return self._index

    def _reload(self) -> None:
        stored = self._store.read()
        self.full_reads += 1
        self._index = compile_rules(stored.rules, stored.channels)
        self._version = stored.version
        log.info("rules_loaded", version=stored.version, rules=len(stored.rules))
