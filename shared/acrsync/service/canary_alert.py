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
from acrsync.errors import AcrSyncError
from acrsync.logging import get_logger
from acrsync.ports import AlertChannel, Notifier

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
) -> AlertOutcome:
    """Send the run's alert when it did not pass; report (never raise) a send that fails."""
    if verdict.status == PASSED:
        return AlertOutcome(owed=False)
    message = render_alert(image, verdict, _iso(now))
    channel = channels(channel_name)
    if channel is None:
        log.warning("canary_alert_not_sent", reason="no_channel", title=message.title, text=message.markdown)
        return AlertOutcome(owed=True, channel=channel_name or "default", error=NO_CHANNEL)
    try:
        notifier().send(channel, message)
    except AcrSyncError as exc:  # UpstreamUnavailable / UpstreamRejected: messages name no secret
        log.error("canary_alert_failed", channel=channel.name, error=str(exc), title=message.title)
        return AlertOutcome(owed=True, channel=channel.name, error=str(exc))
    log.info("canary_alert_sent", channel=channel.name, title=message.title, status=verdict.status)
    return AlertOutcome(owed=True, sent=True, channel=channel.name)


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
