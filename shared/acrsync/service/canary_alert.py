"""``acr-sync canary --alert``: one DingTalk message when a run is broken or misses its latency objective.

It goes the way every acr-sync alert goes — the configured ``Notifier`` (signed webhook, the robot's shared
20-a-minute budget) to the channel the canary repository's covering rule names, else the default channel
(``ACRSYNC_DINGTALK_WEBHOOK``); a rule channel whose variables are unset falls back to the default, as the
watcher's alerts do. Unlike the watcher's, it is not recorded on ledger rows: the canary is a one-shot
command whose exit code is the record. A send that fails is reported, never raised, so the canary's own
result (and exit code) always stands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from acrsync.domain.canary import PASSED, Verdict, render_alert
from acrsync.errors import AcrSyncError, StoreError
from acrsync.logging import get_logger
from acrsync.ports import AlertChannel, AlertMessage, Notifier

log = get_logger(__name__)

NO_CHANNEL = (
    "no alert channel configured: set ACRSYNC_DINGTALK_WEBHOOK and ACRSYNC_DINGTALK_SECRET "
    "(or the covering rule's channel variables)"
)


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """What ``--alert`` did: ``sent`` (to ``channel``), or why not in ``error`` (``""`` = nothing owed)."""

    owed: bool
    sent: bool = False
    channel: str = ""
    error: str = ""


def alert_if_failed(
    notifier: Callable[[], Notifier],
    channels: Callable[[str], AlertChannel | None],
    *,
    image: str,
    verdict: Verdict,
    channel_name: str,
    now: float,
    unbudgeted: Callable[[], Notifier] | None = None,
) -> AlertOutcome:
    """Send the run's alert when it did not pass; report (never raise) a send that fails.

    ``unbudgeted``: a notifier without the shared rate budget, used when the budget's store is what is
    broken (a canary that cannot reach the store is exactly when the alert matters; one message a run
    cannot exceed the robot's 20 a minute alone)."""
    if verdict.status == PASSED:
        return AlertOutcome(owed=False)
    message = render_alert(image, verdict, _iso(now))
    channel = _channel(channels, channel_name)
    if channel is None:
        log.warning("canary_alert_not_sent", reason="no_channel", title=message.title, text=message.markdown)
        return AlertOutcome(owed=True, channel=channel_name or "default", error=NO_CHANNEL)
    error = _send(notifier, channel, message)
    if isinstance(error, StoreError) and unbudgeted is not None:
        log.warning("canary_alert_without_budget", channel=channel.name, error=str(error))
        error = _send(unbudgeted, channel, message)
    if error is not None:
        log.error("canary_alert_failed", channel=channel.name, error=str(error), title=message.title)
        return AlertOutcome(owed=True, channel=channel.name, error=str(error))
    log.info("canary_alert_sent", channel=channel.name, title=message.title, status=verdict.status)
    return AlertOutcome(owed=True, sent=True, channel=channel.name)


def _channel(channels: Callable[[str], AlertChannel | None], name: str) -> AlertChannel | None:
    """The named channel; the default one when the rules (in the store) cannot be read to resolve it."""
    try:
        return channels(name)
    except AcrSyncError as exc:
        log.warning("canary_alert_channel_unresolved", channel=name, error=str(exc))
        return channels("") if name else None


def _send(
    notifier: Callable[[], Notifier], channel: AlertChannel, message: AlertMessage
) -> AcrSyncError | None:
    try:
        notifier().send(channel, message)
    except AcrSyncError as exc:  # UpstreamUnavailable / UpstreamRejected / StoreError: they name no secret
        return exc
    return None


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
