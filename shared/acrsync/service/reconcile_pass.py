"""A reconciler pass's durable state: its cursor (``StateStore``, written after every repository so the next
slice resumes where the last one stopped) and its completion (the summary as ``last_pass``, read by
``acr-sync status``, and one "events missed" notice when the pass repaired images no event had brought).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from acrsync.domain.images import DestinationImage, SourceImage, SyncRequest
from acrsync.errors import ConflictError, RetryableError
from acrsync.logging import get_logger
from acrsync.service.reconcile_act import Actor
from acrsync.service.reconcile_slice import Options, ReconcileDeps, SliceReport, Tally

log = get_logger(__name__)

CURSOR_KEY = "reconciler:cursor"
LAST_PASS_KEY = "reconciler:last_pass"  # noqa: S105 - a state key, not a secret


def new_pass(now: float) -> dict[str, Any]:
    """A new pass's cursor: a unique id (UTC start time and a random suffix), at the first repository."""
    pass_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + secrets.token_hex(2)  # unique
    return {"pass_id": pass_id, "started_at": now, "instance": 0, "done": 0, "repositories": 0, "slices": 0}


def pass_ordinal(deps: ReconcileDeps, options: Options) -> int:
    """This pass's number (the last completed pass's + 1): it picks ``reconcile_copy``'s rotation share."""
    doc, _ = deps.state.read(LAST_PASS_KEY if options.cursor else "audit:last_pass")
    return int(doc.get("ordinal", -1)) + 1


def save_cursor(
    deps: ReconcileDeps, options: Options, cursor: dict[str, Any], report: SliceReport, revision: int
) -> int:
    """Write the cursor with the pass's counts so far (not for an audit run); returns its new revision."""
    if not options.cursor:
        return revision
    cursor["tally"] = report.tally.as_dict()
    cursor["repositories"] = report.pass_repositories
    try:
        return deps.state.write(CURSOR_KEY, cursor, expected_revision=revision)
    except ConflictError:
        # Another reconciler moved the cursor (s.yaml allows one instance; a manual run may race): stop.
        raise _Lost() from None


class _Lost(RetryableError):
    def __init__(self) -> None:
        super().__init__("the reconcile cursor was moved by another run; this slice stops")


def finish_pass(
    deps: ReconcileDeps,
    options: Options,
    cursor: dict[str, Any],
    report: SliceReport,
    *,
    revision: int,
    actor: Actor,
) -> None:
    """The pass completed: its summary becomes the last pass, the cursor is cleared for the next one."""
    now = deps.clock.now()
    report.completed = True
    tally = report.tally
    if tally.events_missed and options.write:
        _events_missed(actor, tally, report.pass_id)
    report.summary = {
        "pass_id": report.pass_id,
        "started_at": float(cursor.get("started_at", now)),
        "finished_at": now,
        "duration_s": round(now - float(cursor.get("started_at", now)), 3),
        "repositories": report.pass_repositories,
        "dry_run": not options.write,
        "ordinal": int(cursor.get("ordinal", 0)),
        **tally.as_dict(),
    }
    log.info("reconcile_pass_completed", **report.summary)
    if options.cursor:
        _write_last(deps, LAST_PASS_KEY, report.summary)
        deps.state.write(CURSOR_KEY, {}, expected_revision=revision)
    else:
        _write_last(deps, "audit:last_pass", report.summary)


def _write_last(deps: ReconcileDeps, key: str, doc: dict[str, Any]) -> None:
    _, revision = deps.state.read(key)
    try:
        deps.state.write(key, doc, expected_revision=revision)
    except ConflictError:
        log.warning("reconcile_last_pass_not_recorded", key=key)


def _events_missed(actor: Actor, tally: Tally, pass_id: str) -> None:
    """One notice per pass: the alert lane sends it to the default channel."""
    first = tally.examples[0] if tally.examples else "? -> ?"
    src, _, dst = first.partition(" -> ")
    instance, namespace, repo, tag = _split_ref(src)
    source = SourceImage(instance, "", namespace, repo, tag)
    dest = DestinationImage(*_split_dest(dst))
    request = SyncRequest("reconciler", source, dest)
    why = (
        f"the reconciler repaired {tally.events_missed} image(s) that no push event brought "
        f"(e.g. {'; '.join(tally.examples)}): the push trigger may be broken or the payload unparseable "
        "— check `acr-sync doctor` and the replicator's event_refused log lines"
    )
    actor.notice(request, "events_missed", why, pass_id)


def _split_ref(ref: str) -> tuple[str, str, str, str]:
    instance, _, rest = ref.partition("/")
    namespace, _, rest = rest.partition("/")
    repo, _, tag = rest.partition(":")
    return instance, namespace, repo, tag


def _split_dest(ref: str) -> tuple[str, str, str, str, str]:
    place, _, rest = ref.partition("/")
    instance, _, region = place.partition("@")
    namespace, _, rest = rest.partition("/")
    repo, _, tag = rest.partition(":")
    return instance, region, namespace, repo, tag
