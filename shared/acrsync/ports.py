"""The ports: what the use cases need from the outside world. Each docstring is the contract.

Adapters live in ``acrsync.adapters`` (one module per backend) and fakes in ``acrsync.adapters.memory``;
the contract suites in ``tests/contract`` run every implementation through the same tests.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["AlertMessage"]  # re-exported: the Notifier port speaks the domain's message value

from acrsync.domain.ledger import LedgerEntry, State
from acrsync.domain.messages import AlertMessage
from acrsync.domain.registry import (
    Instance,
    Namespace,
    Repository,
    SyncTask,
    SyncTaskSpec,
    TagInfo,
)
from acrsync.errors import AcrSyncError, AlreadyClaimed, ConflictError


@dataclass(frozen=True, slots=True)
class StoredRules:
    """What a rule store holds: a version, its channels, and validated rule documents in order."""

    version: int
    updated_at: float
    channels: Mapping[str, Mapping[str, Any]]
    rules: tuple[Mapping[str, Any], ...]


class RuleStore(abc.ABC):
    """Rules, one per row, plus a version that every write bumps."""

    @abc.abstractmethod
    def read(self) -> StoredRules:
        """Everything stored; version 0 and no rules when nothing was ever applied."""

    @abc.abstractmethod
    def version(self) -> int:
        """The current version alone: one cheap read, so callers can keep compiled rules cached."""

    @abc.abstractmethod
    def write(
        self,
        *,
        channels: Mapping[str, Mapping[str, Any]],
        upsert: Sequence[Mapping[str, Any]],
        delete: Sequence[str],
        expected_version: int,
        now: float,
    ) -> int:
        """Upsert rules (by ``name``, keeping the order given), delete by name, replace channels.

        Succeeds only if the stored version is still ``expected_version`` (raise ``ConflictError``
        otherwise); returns the new version (``expected_version + 1``). All or nothing. Afterwards the
        upserted rules come first, in the order given, then untouched rules in their previous order (the
        first rule wins a shared destination, so order is part of the contract).
        """


@dataclass(frozen=True, slots=True)
class RowResult:
    """One row's outcome in a batched ledger write.

    ``status``: ``ok`` (written), ``exists`` (a claim found the key taken), ``conflict`` (an update found
    another revision), ``error`` (this row could not be written now — throttled, say: ``error`` holds the
    ``AcrSyncError``, retryable or not). A batch never raises for one row; it raises only when the whole
    request failed, and then nothing is known to have been written.
    """

    claim_id: str
    status: str
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        """Whether the row was written."""
        return self.status == "ok"


# ``Ledger.note_events`` writes at most this often per source instance (per adapter instance).
EVENTS_NOTE_EVERY_S = 120.0


class Ledger(abc.ABC):
    """One row per (source image, digest, destination image); conditional writes make it safe to share.

    The ``*_many`` methods are the batched forms (one store round trip per step where the backend allows,
    one transaction on SQLite); their defaults loop over the single-row methods, so every backend is correct
    before it is fast. Each row keeps its own condition and gets its own ``RowResult``, in input order.
    """

    @abc.abstractmethod
    def claim(self, entry: LedgerEntry) -> None:
        """Insert ``entry`` only if no row has its ``claim_id``; raise ``AlreadyClaimed`` otherwise."""

    @abc.abstractmethod
    def get(self, claim_id: str) -> LedgerEntry | None:
        """The row, or None."""

    @abc.abstractmethod
    def update(self, entry: LedgerEntry, *, expected_revision: int) -> None:
        """Replace the row if its stored ``revision`` is ``expected_revision``; else ``ConflictError``.

        ``entry.revision`` is the new revision (``LedgerEntry.moved_to`` bumps it).
        """

    @abc.abstractmethod
    def find_by_task(self, task_id: str) -> LedgerEntry | None:
        """The row whose ``task_id`` is this sync task's id, or None."""

    @abc.abstractmethod
    def list_open(
        self, *, limit: int, due_before: float | None = None, due_after: float | None = None
    ) -> list[LedgerEntry]:
        """Rows the watcher still has work on (``domain.ledger.needs_watch``), least recently checked first.

        With ``due_before``, only rows whose ``next_check_at`` is at or before it; with ``due_after``, only
        rows whose ``next_check_at`` is after it. Cost must be O(rows returned), not O(history).
        """

    @abc.abstractmethod
    def scan(self, *, since: float = 0.0, states: frozenset[State] | None = None) -> Iterator[LedgerEntry]:
        """Rows created at or after ``since`` (and in ``states`` if given), oldest first."""

    def note_events(self, source_instance: str, at: float) -> None:
        """Record that a completion event of ``source_instance`` was handled at ``at``.

        Best effort (a failure is not the caller's problem); a backend may coalesce these writes to about
        one every two minutes per instance. The default keeps nothing: the sweep then polls as without events.
        """
        return

    def flush_event_notes(self) -> None:
        """Write any noted events not yet written (a backend may carry notes with its next ledger write)."""
        return

    def events_seen(self) -> dict[str, float]:
        """When a completion event was last noted, per source instance (empty when nothing is known)."""
        return {}

    def claim_many(self, entries: Sequence[LedgerEntry]) -> list[RowResult]:
        """``claim`` for each entry (distinct ``claim_id``s), each conditional on its own key being free."""
        return [_one(e.claim_id, self.claim, e) for e in entries]

    def get_many(self, claim_ids: Sequence[str]) -> dict[str, LedgerEntry]:
        """The rows that exist among ``claim_ids``, by claim id."""
        found = {cid: self.get(cid) for cid in dict.fromkeys(claim_ids)}
        return {cid: e for cid, e in found.items() if e is not None}

    def update_many(
        self, updates: Sequence[tuple[LedgerEntry, int]], *, lazy: bool = False
    ) -> list[RowResult]:
        """``update(entry, expected_revision=rev)`` for each pair (distinct rows), each on its own condition.

        ``lazy``: a backend may leave index entries that rows no longer need for ``list_open`` to collect
        (never a missing one); the rows themselves are written all the same.
        """
        return [_one(e.claim_id, self.update, e, expected_revision=rev) for e, rev in updates]


def _one(claim_id: str, write: Callable[..., None], *args: Any, **kwargs: Any) -> RowResult:
    """Run one single-row write and say how it went (the default batched methods' building block)."""
    try:
        write(*args, **kwargs)
    except AlreadyClaimed:
        return RowResult(claim_id, "exists")
    except ConflictError:
        return RowResult(claim_id, "conflict")
    except AcrSyncError as exc:
        return RowResult(claim_id, "error", exc)
    return RowResult(claim_id, "ok")


class BudgetStore(abc.ABC):
    """Shared rate budgets: at most ``limit`` takes of ``key`` in any ``window_s`` seconds.

    It is a token bucket whose every token comes back exactly ``window_s`` after it was spent, kept in
    the store so the budget holds across all function instances.
    """

    @abc.abstractmethod
    def take(self, key: str, *, limit: int, window_s: float, now: float, count: int = 1) -> float:
        """Spend ``count`` tokens (all or none): 0.0 if taken, else seconds until enough come back."""


class RegistryApi(abc.ABC):
    """The ACR EE OpenAPI (2018-12-01) for one region, as acr-sync uses it.

    Errors: ``UpstreamUnavailable`` (throttling, 5xx, network) and ``UpstreamRejected`` (NoPrivilege, bad
    parameters, missing repository); lookups of things that do not exist return None where documented.
    """

    @abc.abstractmethod
    def get_repository(self, instance_id: str, namespace: str, name: str) -> Repository | None:
        """``GetRepository`` by namespace and name; None if there is no such repository."""

    def cached_repository(self, instance_id: str, namespace: str, name: str) -> Repository | None:
        """A repository ``get_repository`` found recently, without any call (None: not known here).

        Lets callers skip the API budget for a look-up that would not reach ACR.
        """
        return None

    @abc.abstractmethod
    def get_repo_tag(self, instance_id: str, repo_id: str, tag: str) -> TagInfo | None:
        """``GetRepoTag``: the tag's digest; None if the tag does not exist."""

    @abc.abstractmethod
    def create_repo_sync_task(self, spec: SyncTaskSpec) -> str:
        """``CreateRepoSyncTask``; returns the ``SyncTaskId``."""

    @abc.abstractmethod
    def get_repo_sync_task(self, instance_id: str, task_id: str) -> SyncTask:
        """``GetRepoSyncTask``."""

    @abc.abstractmethod
    def list_repo_sync_tasks(
        self, instance_id: str, *, namespace: str = "", repo: str = "", tag: str = ""
    ) -> Iterator[SyncTask]:
        """``ListRepoSyncTask``, every page (page-number paging)."""

    @abc.abstractmethod
    def list_repositories(self, instance_id: str) -> Iterator[Repository]:
        """``ListRepository``, every page (NextToken paging)."""

    @abc.abstractmethod
    def list_repo_tags(self, instance_id: str, repo_id: str) -> Iterator[TagInfo]:
        """``ListRepoTag``, every page (NextToken paging)."""

    @abc.abstractmethod
    def get_instance(self, instance_id: str) -> Instance | None:
        """``GetInstance``; None if there is no such instance."""

    @abc.abstractmethod
    def get_namespace(self, instance_id: str, name: str) -> Namespace | None:
        """``GetNamespace``; None if there is no such namespace."""

    # The reconciler's writes (backup before overwrite; prune). Not abstract, so a registry that never
    # reconciles need not implement them.
    def create_repo_tag(
        self, instance_id: str, namespace: str, repo: str, from_tag: str, to_tag: str
    ) -> None:
        """``CreateRepoTag``: ``to_tag`` points at the image ``from_tag`` points at now."""
        raise NotImplementedError("CreateRepoTag")

    def delete_repo_tag(self, instance_id: str, repo_id: str, tag: str) -> bool:
        """``DeleteRepoTag``; False if the tag was already gone."""
        raise NotImplementedError("DeleteRepoTag")


@dataclass(frozen=True, slots=True)
class AlertChannel:
    """A resolved alert channel: secrets already read from the environment (never from the rules file)."""

    name: str
    webhook: str
    secret: str = ""
    mention_mobiles: tuple[str, ...] = ()


class Notifier(abc.ABC):
    """Sends alert messages. Raises ``UpstreamUnavailable`` (try later) or ``UpstreamRejected`` (config)."""

    @abc.abstractmethod
    def send(self, channel: AlertChannel, message: AlertMessage) -> None:
        """Deliver one message to the channel, or raise."""


class StateStore(abc.ABC):
    """Small JSON documents by key with compare-and-set: the reconciler's cursor and its last pass.

    ``revision`` 0 means "absent"; every successful write returns the stored revision + 1.
    """

    @abc.abstractmethod
    def read(self, key: str) -> tuple[dict[str, Any], int]:
        """The document and its revision; ``({}, 0)`` when nothing is stored under ``key``."""

    @abc.abstractmethod
    def write(self, key: str, doc: Mapping[str, Any], *, expected_revision: int) -> int:
        """Store ``doc`` if the stored revision is ``expected_revision`` (0: absent); else ``ConflictError``.

        Returns the new revision."""


class Clock(abc.ABC):
    """Time, injected so the core stays deterministic in tests."""

    @abc.abstractmethod
    def now(self) -> float:
        """Epoch seconds."""

    @abc.abstractmethod
    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, for deadlines."""

    @abc.abstractmethod
    def sleep(self, seconds: float) -> None:
        """Wait."""


# -- The deployment and outcome events (doctor --deployed, ACRSYNC_EVENT_BUS) ------------------------------
# These speak the APIs' own wire names (camelCase for FC 3.0, PascalCase for EventBridge and ACR), as the
# SDK models' ``to_map()`` gives them: the checks compare them against s.yaml, which uses the same names.


class FunctionsApi(abc.ABC):
    """The FC 3.0 API (2023-03-30), read-only. Errors: ``UpstreamUnavailable`` / ``UpstreamRejected``."""

    @abc.abstractmethod
    def get_function(self, name: str) -> Mapping[str, Any] | None:
        """``GetFunction``; None if there is no such function."""

    @abc.abstractmethod
    def list_triggers(self, function: str) -> list[Mapping[str, Any]]:
        """``ListTriggers``, every page; ``triggerConfig`` decoded from its JSON string."""

    @abc.abstractmethod
    def get_async_invoke_config(self, function: str) -> Mapping[str, Any] | None:
        """``GetAsyncInvokeConfig``; None if the function has none."""


class EventRulesApi(abc.ABC):
    """EventBridge rules (2020-04-01), read-only."""

    @abc.abstractmethod
    def get_rule(self, bus: str, name: str) -> Mapping[str, Any] | None:
        """``GetRule``'s ``Data`` (pattern, status, targets); None if there is no such rule or bus."""


class SyncRulesApi(abc.ABC):
    """ACR's own replication rules on one region's instances."""

    @abc.abstractmethod
    def list_repo_sync_rules(self, instance_id: str) -> list[Mapping[str, Any]]:
        """``ListRepoSyncRule``, every page."""

    @abc.abstractmethod
    def list_event_center_rules(self, instance_id: str) -> list[str]:
        """``ListEventCenterRuleName``: the names of the instance's event-notification rules."""


class EventBus(abc.ABC):
    """Publishes CloudEvents to an EventBridge custom bus (``PutEvents``)."""

    max_batch: int = (
        16  # PutEvents takes at most 16 events per call (help.aliyun.com/document_detail/164006.htm)
    )

    @abc.abstractmethod
    def put_events(self, bus: str, events: Sequence[Mapping[str, Any]]) -> set[str]:
        """Send up to ``max_batch`` events; return the ids accepted. Raise ``UpstreamUnavailable`` when the
        call itself failed (then nothing is known to be accepted), ``UpstreamRejected`` for configuration."""


# --- The registry data plane (OCI distribution API): copy destinations beyond ACR's own sync. ---

from acrsync.domain.oci import Descriptor, Manifest  # noqa: E402  (appended section: keep merges local)


class BlobReader(abc.ABC):
    """An open blob download: iterate the bytes once, in chunks; always ``close`` (a context manager)."""

    size: int

    @abc.abstractmethod
    def __iter__(self) -> Iterator[bytes]:
        """The blob's bytes, in chunks of bounded size (streamed: never the whole blob in memory)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection."""

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RegistryClient(abc.ABC):
    """One OCI distribution-spec registry, authenticated (token or basic) for the repositories it touches.

    Errors: ``UpstreamUnavailable`` (429, 5xx, network, after bounded retries) and ``UpstreamRejected``
    (401/403 with the credentials given, a name the registry refuses, a digest mismatch). Lookups of what
    does not exist return None.
    """

    host: str

    @abc.abstractmethod
    def get_manifest(self, repo: str, reference: str) -> Manifest | None:
        """``GET /v2/<repo>/manifests/<tag|digest>``; None if unknown. The digest is checked for digests."""

    @abc.abstractmethod
    def head_manifest(self, repo: str, reference: str) -> str | None:
        """``HEAD /v2/<repo>/manifests/<ref>``: its digest, or None."""

    @abc.abstractmethod
    def put_manifest(self, repo: str, reference: str, manifest: Manifest) -> str:
        """``PUT /v2/<repo>/manifests/<ref>`` with the manifest's exact bytes; returns the stored digest."""

    @abc.abstractmethod
    def delete_manifest(self, repo: str, digest: str) -> bool:
        """``DELETE /v2/<repo>/manifests/<digest>``; False if it was not there."""

    @abc.abstractmethod
    def blob_size(self, repo: str, digest: str) -> int | None:
        """``HEAD /v2/<repo>/blobs/<digest>``: its size, or None when the repository does not have it."""

    @abc.abstractmethod
    def open_blob(self, repo: str, digest: str) -> BlobReader:
        """``GET /v2/<repo>/blobs/<digest>``, streamed (follows the redirect registries use for storage)."""

    @abc.abstractmethod
    def upload_blob(self, repo: str, digest: str, size: int, chunks: Iterator[bytes]) -> None:
        """Push ``size`` bytes whose sha256 must be ``digest``, streamed; ``UpstreamRejected`` on mismatch.

        The upload is committed (the final ``PUT ?digest=``) only after the bytes were hashed here, so a
        corrupt source never becomes a blob.
        """

    @abc.abstractmethod
    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Cross-repository mount (``POST /v2/<repo>/blobs/uploads/?mount=&from=``); False if not mounted."""

    @abc.abstractmethod
    def list_tags(self, repo: str, *, page_size: int = 100) -> Iterator[str]:
        """``GET /v2/<repo>/tags/list``, every page (``Link: rel=next``); empty if the repo is unknown."""

    @abc.abstractmethod
    def referrers(self, repo: str, digest: str) -> list[Descriptor]:
        """``GET /v2/<repo>/referrers/<digest>`` (OCI 1.1); [] when none or when the API is unsupported."""

    def list_referrers(self, repo: str, digest: str) -> list[Descriptor] | None:
        """Like ``referrers``, but None when the registry has no referrers API (404/405: OCI 1.1 says a
        registry that has it never answers 404), so a caller can say so instead of seeing "none"."""
        return self.referrers(repo, digest)

    def delete_tag(self, repo: str, tag: str) -> bool | None:
        """``DELETE /v2/<repo>/manifests/<tag>`` (distribution spec 1.1: removes the tag, not the manifest);
        False if it was not there, None when the registry does not delete by tag (400/405 UNSUPPORTED)."""
        return None


class CopyLauncher(abc.ABC):
    """Starts one copy job (a ledger row's claim id) on the copier, asynchronously; returns at once.

    Production: FC ``InvokeFunction`` with ``x-fc-invocation-type: Async``; locally: in-process.
    Raises ``UpstreamUnavailable`` when the job could not be handed over (the row stays for the watcher).
    """

    @abc.abstractmethod
    def launch(self, claim_id: str) -> None:
        """Hand the job over."""


class SyncRuleApi(abc.ABC):
    """ACR's manual sync rules, for destinations with a custom replication link (``link:`` in the rules).

    Errors as ``RegistryApi``'s.
    """

    @abc.abstractmethod
    def list_sync_rules(
        self, instance_id: str, *, namespace: str = "", repo: str = ""
    ) -> list[Mapping[str, Any]]:
        """``ListRepoSyncRule`` (every page) of an instance, optionally of one source repository: the
        wire-named items (``SyncRuleId, SyncRuleName, SyncTrigger, LinkId, Local*, Target*`` ...)."""

    def find_sync_rule(
        self, instance_id: str, name: str, *, namespace: str, repo: str
    ) -> Mapping[str, Any] | None:
        """The rule named ``name`` on that source repository (as ``list_sync_rules`` gives it), or None."""
        rules = self.list_sync_rules(instance_id, namespace=namespace, repo=repo)
        return next((r for r in rules if r.get("SyncRuleName") == name), None)

    @abc.abstractmethod
    def create_sync_rule(self, spec: Mapping[str, str]) -> str:
        """``CreateRepoSyncRule`` with wire-named parameters; returns the ``SyncRuleId``."""

    @abc.abstractmethod
    def create_task_by_rule(
        self, instance_id: str, repo_id: str, tag: str, rule_id: str, priority: int
    ) -> str:
        """``CreateRepoSyncTaskByRule``; returns the ``SyncTaskId``."""
