"""``acr-sync canary``: push a tiny image and follow it through every stage of a real deployment.

Stages per destination, each timed from the push: ``event`` (the replicator received the push event and
claimed the destination: a ledger row appeared), ``task`` (a sync task or copy job was created), ``completed``
(ACR's task or the copy finished), ``verified`` (the destination digest was checked by the watcher or the
copier). The first stage that did not happen is the broken one: no row within the timeout means the trigger
(EventBridge -> replicator) is broken; a push the source registry refuses is stage ``push``. Afterwards the
canary tags are removed (source and destinations).
Timestamps come from the ledger rows, so the latencies are the pipeline's, not the polling's.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from acrsync.domain.canary import misses_objective
from acrsync.domain.images import COPY_REGION, SourceImage
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.domain.oci import OCI_MANIFEST, Manifest, parse_registry_target
from acrsync.domain.rules_eval import RuleIndex, evaluate
from acrsync.errors import AcrSyncError
from acrsync.logging import get_logger
from acrsync.ports import Clock, Ledger, RegistryClient

log = get_logger(__name__)

STAGES = ("event", "task", "completed", "verified")
CANARY_PREFIX = "acrsync-canary-"


def canary_tag(now: float) -> str:
    """``acrsync-canary-<unix seconds>-<4 hex>``: two canaries of one repository in one second still get
    two tags (a shared tag would let one run's cleanup delete the other's image)."""
    return f"{CANARY_PREFIX}{int(now)}-{secrets.token_hex(2)}"


@dataclass(frozen=True, slots=True)
class CanaryDeps:
    """Ledger and clock of the deployment, the rules, and registry clients for pushing and cleaning up."""

    ledger: Ledger
    clock: Clock
    rules: Callable[[], RuleIndex]
    acr: Callable[[str, str], RegistryClient]  # (instance, region) -> that ACR EE instance's registry
    registry: Callable[[str, str], RegistryClient]  # (registry, credentials_env) -> a copy destination


@dataclass
class DestinationReport:
    """One destination: seconds from the push to each stage reached, and the first broken stage."""

    destination: str
    seconds: dict[str, float] = field(default_factory=dict)
    broken: str = ""
    detail: str = ""


@dataclass
class CanaryReport:
    """The run: the canary image, each destination's stages, and whether everything passed."""

    image: str
    digest: str = ""
    destinations: list[DestinationReport] = field(default_factory=list)
    broken: str = ""
    detail: str = ""
    cleanup: list[str] = field(default_factory=list)
    # The covering rule's alert channel ("" = the default channel): where ``--alert`` sends.
    alert_channel: str = ""

    @property
    def passed(self) -> bool:
        """Every destination verified."""
        return not self.broken and all(not d.broken for d in self.destinations)


def canary_image_parts(tag: str) -> tuple[bytes, bytes]:
    """A config and one tiny layer, unique per tag (so each run is a new digest, a new replication)."""
    layer = hashlib.sha256(tag.encode() + os.urandom(16)).hexdigest().encode() * 8
    config = json.dumps({"architecture": "amd64", "os": "linux", "acrsync_canary": tag}).encode()
    return config, layer


def push_canary(client: RegistryClient, repo: str, tag: str) -> str:
    """Upload the canary's blobs and manifest, tagged; return its digest."""
    config, layer = canary_image_parts(tag)
    descriptors = []
    for data, media in (
        (config, "application/vnd.oci.image.config.v1+json"),
        (layer, "application/vnd.oci.image.layer.v1.tar"),
    ):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        client.upload_blob(repo, digest, len(data), iter([data]))
        descriptors.append({"mediaType": media, "digest": digest, "size": len(data)})
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptors[0], "layers": descriptors[1:]}
    body = json.dumps(doc, separators=(",", ":")).encode()
    manifest = Manifest(OCI_MANIFEST, body, "sha256:" + hashlib.sha256(body).hexdigest())
    return client.put_manifest(repo, tag, manifest)


# Told, after each ledger read, every destination's stages so far and the seconds since the push.
Progress = Callable[[float, list[DestinationReport]], None]


def run_canary(
    deps: CanaryDeps,
    source: SourceImage,
    *,
    timeout_s: float,
    poll_s: float = 2.0,
    progress: Progress | None = None,
) -> CanaryReport:
    """Push ``source`` (its tag is the canary's), follow every destination the rules give, clean up."""
    report = CanaryReport(image=source.ref)
    expected = evaluate(deps.rules(), source)
    report.alert_channel = next((r.alert_channel for r in expected if r.alert_channel), "")
    if not expected:
        report.broken = "rules"
        report.detail = (
            f"no enabled rule selects {source.ref}: cover {source.repository} with a rule whose tags include "
            f"'glob:{CANARY_PREFIX}*' (or exclude nothing that matches it)"
        )
        return report
    started = deps.clock.now()
    try:
        report.digest = push_canary(
            deps.acr(source.instance_id, source.region), source.repository, source.tag
        )
    except AcrSyncError as exc:  # no push, no pipeline to follow: "push" is the broken stage
        log.warning("canary_push_failed", image=source.ref, error=str(exc))
        report.broken, report.detail = "push", f"{type(exc).__name__}: {exc}"
        return report
    log.info("canary_pushed", image=source.ref, digest=report.digest, destinations=len(expected))
    names = [r.destination.ref for r in expected]
    watch = _watcher(names, started, progress)
    rows = _follow(deps, source, len(expected), started + timeout_s, poll_s, tell=watch)
    by_dest = {r.dest_ref: r for r in rows}
    for request in expected:
        report.destinations.append(
            _stages(request.destination.ref, by_dest.get(request.destination.ref), started)
        )
    if not rows:
        report.broken = "event"
        report.detail = (
            f"no push event within {int(timeout_s)} s: the EventBridge trigger or the replicator is broken"
        )
    report.cleanup = _cleanup(deps, source, report.digest, rows)
    return report


def _matching(deps: CanaryDeps, source: SourceImage, since: float) -> list[LedgerEntry]:
    return [
        r
        for r in deps.ledger.scan(since=since - 60)
        if (r.source_instance, r.source_namespace, r.source_repo, r.source_tag)
        == (source.instance_id, source.namespace, source.repo, source.tag)
    ]


def _watcher(
    names: list[str], started: float, progress: Progress | None
) -> Callable[[float, list[LedgerEntry]], None]:
    """Turn each ledger read into the progress callback's view (nothing when there is no callback)."""

    def tell(now: float, rows: list[LedgerEntry]) -> None:
        if progress is not None:
            by_dest = {r.dest_ref: r for r in rows}
            progress(now - started, [_stages(n, by_dest.get(n), started) for n in names])

    return tell


def _follow(
    deps: CanaryDeps,
    source: SourceImage,
    count: int,
    deadline: float,
    poll_s: float,
    *,
    tell: Callable[[float, list[LedgerEntry]], None],
) -> list[LedgerEntry]:
    rows: list[LedgerEntry] = []
    while deps.clock.now() < deadline:
        rows = _matching(deps, source, deadline)
        tell(deps.clock.now(), rows)
        if len(rows) >= count and all(not r.state.is_open for r in rows):
            return rows
        deps.clock.sleep(poll_s)
    return rows


def _stages(destination: str, row: LedgerEntry | None, started: float) -> DestinationReport:
    out = DestinationReport(destination)
    if row is None:
        out.broken, out.detail = (
            "event",
            "no claim for this destination: the replicator never handled the push",
        )
        return out
    out.seconds["event"] = round(row.created_at - started, 2)
    submitted = row.extra.get("submitted_at")
    if row.task_id and submitted:
        out.seconds["task"] = round(float(submitted) - started, 2)
    elif not row.task_id:
        out.broken, out.detail = "task", row.last_error or "no sync task or copy job was created"
        return out
    if row.state in (State.FAILED, State.CANCELED) or (
        row.state.is_open and row.state is not State.SUCCEEDED
    ):
        out.broken, out.detail = "completed", row.last_error or f"still {row.state.value} at the timeout"
        return out
    out.seconds["completed"] = round(row.updated_at - started, 2)
    if row.state is not State.VERIFIED:
        out.broken, out.detail = (
            "verified",
            row.last_error or f"{row.state.value}: the destination digest differs",
        )
        return out
    out.seconds["verified"] = round(row.updated_at - started, 2)
    return out


def _cleanup(deps: CanaryDeps, source: SourceImage, digest: str, rows: list[LedgerEntry]) -> list[str]:
    """Delete the canary everywhere it went; say what could not be deleted (never raise)."""
    problems: list[str] = []
    # (kind, a, b, repository): "acr" -> deps.acr(instance, region), "oci" -> deps.registry(target, env)
    places = [("acr", source.instance_id, source.region, source.repository)]
    for row in rows:
        if row.dest_region == COPY_REGION:
            target = row.extra.get("registry", row.dest_instance)
            try:
                repo = parse_registry_target(target).repository(f"{row.dest_namespace}/{row.dest_repo}")
            except ValueError as exc:  # a stored row no validated rule could write: say so, go on
                problems.append(f"{row.dest_ref}: not cleaned up: {exc}")
                continue
            places.append(("oci", target, row.extra.get("credentials_env", ""), repo))
        else:
            places.append(
                ("acr", row.dest_instance, row.dest_region, f"{row.dest_namespace}/{row.dest_repo}")
            )
    for kind, a, b, repo in places:
        try:
            client = deps.acr(a, b) if kind == "acr" else deps.registry(a, b)
            client.delete_manifest(repo, digest)
        except AcrSyncError as exc:
            problems.append(f"{repo}@{digest}: {exc}")
    return problems


def iter_stage_rows(report: CanaryReport, objective_s: float | None = None) -> Iterator[list[str]]:
    """Table rows: destination, each stage's seconds (or the broken mark), detail. A destination verified
    later than the objective has its ``verified`` cell marked ``OVER``."""
    for d in report.destinations:
        cells = [
            f"{d.seconds[s]:.1f}s" if s in d.seconds else ("BROKEN" if s == d.broken else "-") for s in STAGES
        ]
        detail = d.detail
        if misses_objective(d, objective_s):
            cells[-1] += " OVER"
            detail = detail or f"verified later than the {objective_s:g} s objective"
        yield [d.destination, *cells, detail]
