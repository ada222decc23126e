"""``acr-sync canary --schedule``: the environment a scheduled canary needs, by name (never by value).

Pure: what the rules give for the canary image and which store and options are used in, the variable names
and why each is needed out. Cron starts commands with an almost empty environment, so everything the
canary reads must be written down for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from acrsync.domain.images import SyncRequest

# (variable name, why the canary reads it): names only, these are not values.
_BASE = (
    ("ACRSYNC_STORE", "the deployment's store (rules and ledger)"),
    ("ACRSYNC_REGION", "the source instance's region"),
    ("ALIBABA_CLOUD_ACCESS_KEY_ID", "an operator identity that may push and delete the canary"),
    ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "its key secret"),
    ("ALIBABA_CLOUD_SECURITY_TOKEN", "only with STS credentials"),
)
_DEFAULT_CHANNEL = (
    ("ACRSYNC_DINGTALK_WEBHOOK", "the default alert channel's webhook (the fallback)"),
    ("ACRSYNC_DINGTALK_SECRET", "its signing secret (SEC...)"),
)


def schedule_env(
    requests: Sequence[SyncRequest],
    channels: Mapping[str, Mapping[str, Any]],
    *,
    tablestore: bool,
    alert: bool,
    overrides: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """``(NAME, why)`` for every variable the scheduled canary reads, each name once, in a stable order."""
    names: dict[str, str] = dict(_BASE[:2])
    if tablestore:
        names["ACRSYNC_TABLESTORE_ENDPOINT"] = "the Tablestore endpoint (or derived from ACRSYNC_REGION)"
    names.update(_BASE[2:])
    for name in overrides:
        names[name] = "set in this shell: an endpoint override"
    for request in requests:
        extra = dict(request.copy)
        if extra.get("credentials_env"):
            where = extra.get("registry", "a copy destination")
            names[extra["credentials_env"]] = f"USERNAME:PASSWORD of {where} (the canary is deleted there)"
    if alert:
        for channel in sorted({r.alert_channel for r in requests if r.alert_channel}):
            ding = (channels.get(channel) or {}).get("dingtalk") or {}
            for key, what in (("webhook_env", "webhook"), ("secret_env", "signing secret")):
                if ding.get(key):
                    names[str(ding[key])] = f"alert channel {channel}: the robot's {what}"
        names.update(_DEFAULT_CHANNEL)
    return list(names.items())
