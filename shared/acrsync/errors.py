"""The exception tree. Every failure acr-sync raises on purpose is one of these.

```
AcrSyncError
├── RetryableError            raise it: FC async retry / watcher backoff
│   ├── UpstreamUnavailable   ACR 5xx, throttling, timeouts; Tablestore busy; DingTalk -1 / 410100
│   ├── BudgetExhausted       the invocation's time budget ran out before the work did
│   ├── StoreUnavailable      the store is there but unusable now: SQLite locked, I/O error, file swapped
│   └── StoreNotSetUp         never set up (no file, no tables): FC retries until an operator sets it up
│       └── RulesNotApplied   the store exists but no rules were ever applied (rules version 0)
├── PermanentError            log at error, record, alert once, return normally (no retry storm)
│   ├── InvalidEvent          payload does not parse or is not from an allowed account
│   ├── RuleConfigError       a rules file is malformed (rejected at apply time)
│   ├── ConfigError           an environment variable is missing or malformed
│   │   └── StoreConfigError  ACRSYNC_STORE names something unusable: a directory, not a database, read-only
│   └── UpstreamRejected      NoPrivilege, namespace missing, bad parameters
└── ConflictError             a conditional write lost a race (claim taken, state moved on)
    └── AlreadyClaimed        the ledger key was claimed by someone else first
```

Every store failure is also a ``StoreError``: its message names ``ACRSYNC_STORE``, the file or table, and the
command that fixes it (``fix``). A duplicate delivery is not an error: it is an outcome (``duplicate=True``).
"""

from __future__ import annotations


class AcrSyncError(Exception):
    """Base of every error acr-sync raises on purpose."""


class RetryableError(AcrSyncError):
    """Transient: the same work, tried again later, may succeed."""


class UpstreamUnavailable(RetryableError):
    """An upstream service is throttling, failing with 5xx, or unreachable."""

    def __init__(self, message: str, *, code: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


class BudgetExhausted(RetryableError):
    """The invocation ran out of time (or API budget) before it finished; redelivery is safe."""


class StoreError(AcrSyncError):
    """Mixin of every store failure: ``variable`` (always ``ACRSYNC_STORE``), ``location`` and ``fix``."""

    variable = "ACRSYNC_STORE"

    def __init__(self, message: str, *, location: str = "", fix: str = "", code: str = "") -> None:
        super().__init__(f"{message}; {fix}" if fix else message)
        self.problem = message
        self.location = location
        self.fix = fix
        self.code = code


class StoreUnavailable(StoreError, RetryableError):
    """The store exists but cannot be used right now (locked, I/O error, swapped): retry later."""


class StoreNotSetUp(StoreError, RetryableError):
    """The store was never set up (no SQLite file, a missing Tablestore table) or was deleted under us.

    Retryable on purpose: acknowledging the event would lose it, while FC's retries (and then its failure
    destination) keep it until an operator runs ``acr-sync rules apply`` / ``acr-sync tables init``.
    """


class RulesNotApplied(StoreNotSetUp):
    """The store answers but no rules were ever applied (version 0): a configuration error, not "no match"."""


class PermanentError(AcrSyncError):
    """Will fail the same way every time: record it, alert once, do not retry."""


class InvalidEvent(PermanentError):
    """The event does not parse, lacks a field, or comes from a source/account we refuse."""

    def __init__(self, message: str, *, field: str = "", reason: str = "invalid") -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason


class RuleConfigError(PermanentError):
    """A rules document is invalid. ``errors`` lists every problem as ``path: message``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} error(s) in rules: " + "; ".join(errors[:5]))
        self.errors = errors


class ConfigError(PermanentError):
    """An environment variable is missing or malformed; the message names it and what is expected."""


class StoreConfigError(StoreError, ConfigError):
    """``ACRSYNC_STORE`` points at something that will not work: a directory, a non-database file, a file or
    directory without the access needed, a corrupt database. Retrying does not help; fixing the variable or
    the file does."""


class UpstreamRejected(PermanentError):
    """An upstream refused the request for a reason retrying will not fix."""

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class LinkRejected(UpstreamRejected):
    """ACR refused the manual sync rule or task of a custom replication link (``link:``), or the rule acr-sync
    made was edited: the row fails as ``link_refused`` with what to do (``service.links``)."""

    error_class = "link_refused"


class ConflictError(AcrSyncError):
    """A conditional write lost: the row is not in the state the writer expected."""


class AlreadyClaimed(ConflictError):
    """The ledger key exists: another delivery (or instance) claimed it first."""
