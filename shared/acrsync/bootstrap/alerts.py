"""Where outcomes are told: DingTalk alerts (the notifier and named channels) and outcome events on the
EventBridge bus (``ACRSYNC_EVENT_BUS``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acrsync.bootstrap import core
from acrsync.bootstrap.core import clock, settings, stores
from acrsync.logging import get_logger, secrets_in
from acrsync.ports import AlertChannel, Notifier

log = get_logger(__name__)


def notifier(context: Any = None) -> Notifier:
    """DingTalk, with each robot's 20-a-minute limit kept in the shared budget store."""
    if "notifier" not in core._cache:
        from acrsync.adapters.dingtalk import DingTalkNotifier

        core._cache["notifier"] = DingTalkNotifier(clock=clock(), budget=stores(context).budget)
    result: Notifier = core._cache["notifier"]
    return result


def channels(context: Any = None) -> Callable[[str], AlertChannel | None]:
    """Resolve an alert channel by name: the rules file names env vars; values are read here, never stored."""
    cfg = settings(context)
    environ = core.current_environ()

    def resolve(name: str) -> AlertChannel | None:
        if not name:
            if not cfg.dingtalk_webhook:
                return None
            return AlertChannel("default", cfg.dingtalk_webhook, cfg.dingtalk_secret)
        spec = stores(context).rules.read().channels.get(name)
        if spec is None:
            return resolve("")
        ding = spec.get("dingtalk") or {}
        webhook_env, secret_env = (str(ding.get(k) or "") for k in ("webhook_env", "secret_env"))
        if refused := _refused_env_names(webhook_env, secret_env):
            # Stored before rules were limited to ACRSYNC_DINGTALK_*: never read (nor send) such a variable.
            log.error("alert_channel_env_refused", channel=name, variables=refused)
            return resolve("")
        webhook = environ.get(webhook_env, "")
        if not webhook:
            log.warning("alert_channel_unconfigured", channel=name, webhook_env=webhook_env)
            return resolve("")
        secret = environ.get(secret_env, "") if secret_env else ""
        secrets_in([secret, webhook, webhook.partition("access_token=")[2]])
        mobiles = tuple(str(m) for m in spec.get("mention_mobiles") or ())
        return AlertChannel(name, webhook, secret, mobiles)

    return resolve


def _refused_env_names(*names: str) -> list[str]:
    from acrsync.domain.rules_schema import CHANNEL_ENV_RE  # lazily: only alerting needs it

    return [n for n in names if n and not CHANNEL_ENV_RE.match(n)]


def outcome_publisher(context: Any = None) -> Callable[[float], int] | None:
    """``deadline -> events sent`` over ``ACRSYNC_EVENT_BUS``; None when the variable is unset. The
    EventBridge SDK is imported on the first publish, never by the replicator."""
    cfg = settings(context)
    if not cfg.event_bus:
        return None

    def publish(deadline_at: float) -> int:
        from acrsync.service.outcomes import publish_outcomes

        return publish_outcomes(
            stores(context).ledger, event_bus(context), cfg.event_bus, clock(), deadline=deadline_at
        )

    return publish


def event_bus(context: Any = None) -> Any:
    """The ``EventBus`` adapter on the EventBridge SDK, built once (tests pin a fake with ``use``)."""
    if "event_bus" not in core._cache:
        from acrsync.adapters.eventbridge import EventBridgeBus, build_eventbridge_client

        cfg = settings(context)
        creds = cfg.credentials
        keys = {"access_key_id": creds.access_key_id, "access_key_secret": creds.access_key_secret}
        if creds.security_token:
            keys["security_token"] = creds.security_token
        core._cache["event_bus"] = EventBridgeBus(
            build_eventbridge_client(cfg.region, cfg.eventbridge_endpoint, **keys)
        )
    return core._cache["event_bus"]
