"""Sending alerts: failures grouped per (rule, destination, error class) and window, at most 20 a minute.

Protocol per message, so a message is sent once and never lost:
1. mark every row of the group ``alert_sending`` (conditional writes: a row another watcher is sending is
   skipped);
2. send (the notifier takes a token from the robot's shared budget first — 20 per 60 s, reference §6 —
   and raises ``UpstreamUnavailable`` without sending when there is none);
3. success → ``alerted`` flips (failure sent / resolved sent); retryable failure → unmark (sent
   later); rejected by DingTalk (bad token/sign) → logged loudly once and marked, not retried forever.
A crash between 1 and the end of 2 leaves marks that expire after ``SENDING_STALE_S``; the message
is then sent again
(at-least-once only in that crash window; DingTalk has no idempotency key).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from acrsync.domain.alerts import AlertMessage, group_failures, render_failure, render_resolved
from acrsync.domain.ledger import ALERT_LANE, LedgerEntry
from acrsync.domain.watch import WatchPolicy, owes_failure_alert, owes_resolved_message
from acrsync.errors import ConflictError, UpstreamRejected, UpstreamUnavailable
from acrsync.logging import get_logger
from acrsync.ports import AlertChannel, Clock, Ledger, Notifier

log = get_logger(__name__)


class AlertDeps(Protocol):
    """What sending alerts needs; ``service.watch.WatchDeps`` has it (imports run watch → alerting only)."""

    @property
    def ledger(self) -> Ledger: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def notifier(self) -> Notifier: ...
    @property
    def channels(self) -> Callable[[str], AlertChannel | None]: ...
    @property
    def policy(self) -> WatchPolicy: ...
    @property
    def sweep_limit(self) -> int: ...


SENDING_STALE_S = 300.0
# Room to send one message (5 s timeout) and record it before the function is stopped.
SEND_MARGIN_S = 8.0


def flush_alerts(deps: AlertDeps, deadline: float, owing: Sequence[LedgerEntry] | None = None) -> int:
    """Send every failure group whose window has closed, and every owed "resolved" message; count sent.

    ``owing``: the alert lane as the caller already read it (the tick reads both lanes at once); read
    here when not given.
    """
    now = deps.clock.now()
    if owing is None:
        owing = deps.ledger.list_open(limit=deps.sweep_limit, due_before=ALERT_LANE)
    rows = [r for r in owing if not _being_sent(r, now)]
    failures = [r for r in rows if owes_failure_alert(r)]
    resolved = [r for r in rows if owes_resolved_message(r)]
    sent = 0
    for group in group_failures(failures, window_s=deps.policy.alert_window_s):
        if group.window_start + group.window_s > now:
            continue  # the window is still open: more of the same may come
        if deps.clock.monotonic() > deadline - SEND_MARGIN_S:
            break  # no time left to send and record it; the next tick will

        message = render_failure(group, _iso(now))
        sent += _deliver(deps, group.key.channel, message, list(group.entries), resolved=False)
    by_channel: dict[str, list[LedgerEntry]] = {}
    for row in resolved:
        by_channel.setdefault(row.alert_channel, []).append(row)
    for channel, entries in by_channel.items():
        if deps.clock.monotonic() > deadline - SEND_MARGIN_S:
            break
        sent += _deliver(deps, channel, render_resolved(entries, _iso(now)), entries, resolved=True)
    return sent


def _being_sent(row: LedgerEntry, now: float) -> bool:
    mark = row.extra.get("alert_sending", "")
    return bool(mark) and now - float(mark) < SENDING_STALE_S


def _deliver(
    deps: AlertDeps, channel_name: str, message: AlertMessage, rows: list[LedgerEntry], *, resolved: bool
) -> int:
    channel = deps.channels(channel_name)
    kind = "resolved" if resolved else "failure"
    if channel is None:
        # Nothing to send to: the alert goes to the log in full and the ledger keeps every row.
        log.warning(
            "alert_not_sent_no_channel",
            channel=channel_name or "(default)",
            kind=kind,
            title=message.title,
            text=message.markdown,
        )
        _finish(deps, rows, resolved=resolved, note="logged only: no channel configured")
        return 0
    held = _mark(deps, rows)
    if not held:
        return 0
    try:
        deps.notifier.send(channel, message)
    except UpstreamUnavailable as exc:
        log.warning("alert_send_failed_will_retry", channel=channel.name, error=str(exc), rows=len(held))
        _unmark(deps, held)
        return 0
    except UpstreamRejected as exc:
        log.error(
            "alert_channel_rejected", channel=channel.name, code=exc.code, error=str(exc), title=message.title
        )
        _finish(deps, held, resolved=resolved, note=f"DingTalk refused: {exc.code}")
        return 0
    _finish(deps, held, resolved=resolved, note="")
    log.info("alert_sent", channel=channel.name, kind=kind, rows=len(held), title=message.title)
    return 1


def _update(deps: AlertDeps, row: LedgerEntry, **changes: Any) -> LedgerEntry | None:
    moved = row.moved_to(row.state, deps.clock.now(), **changes)
    try:
        deps.ledger.update(moved, expected_revision=row.revision)
    except ConflictError:
        return None
    return moved


def _mark(deps: AlertDeps, rows: Sequence[LedgerEntry]) -> list[LedgerEntry]:
    stamp = str(deps.clock.now())
    held = [_update(deps, r, extra={**r.extra, "alert_sending": stamp}) for r in rows]
    return [r for r in held if r is not None]


def _unmark(deps: AlertDeps, rows: Sequence[LedgerEntry]) -> None:
    for row in rows:
        _update(deps, row, extra={k: v for k, v in row.extra.items() if k != "alert_sending"})


def _finish(deps: AlertDeps, rows: Sequence[LedgerEntry], *, resolved: bool, note: str) -> None:
    """Record that the message went out. A row that moved meanwhile (a completion event, a retry) is read
    again and the record applied to what it is now, so a sent message is never sent a second time."""
    for row in rows:
        current: LedgerEntry | None = row
        for _ in range(3):
            if current is None:
                break
            extra = {k: v for k, v in current.extra.items() if k != "alert_sending"}
            if note:
                extra["alert_note"] = note
            # A failure alert sets alerted (a "resolved" is then owed on recovery); a resolved one clears it.
            if _update(deps, current, alerted=not resolved, extra=extra) is not None:
                break
            current = deps.ledger.get(row.claim_id)
        else:
            log.error("alert_sent_but_not_recorded", claim_id=row.claim_id)


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
