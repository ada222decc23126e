"""Validation of a rules document (the parsed YAML mapping) into plain, JSON-able rule dicts.

Every problem is collected with its path (``rules[2].destinations[0].priority: must be ...``); the result is
either a complete ``RulesDocument`` or ``RuleConfigError`` listing all of them, never a partial document.
Messages quote what the author wrote through ``domain.quote`` (bounded), and list at most ``MAX_ERRORS``.
The pieces: ``rules_checker`` (collecting errors), ``rules_destinations`` (destinations and the
reconciler's keys); this module checks the document, its channels, rules and sources.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acrsync.domain.quote import clip, show
from acrsync.domain.rules_checker import Checker, digits, kind_of, path_key
from acrsync.domain.rules_destinations import (
    INSTANCE_RE,
    REGION_RE,
    REGISTRY_ENV_PREFIX,
    REGISTRY_ENV_RE,
    destinations,
    reconcile_rule_keys,
)
from acrsync.errors import RuleConfigError

# Importable from here as before (callers name the schema, not its pieces).
__all__ = [
    "CHANNEL_ENV_PREFIX",
    "CHANNEL_ENV_RE",
    "INSTANCE_RE",
    "MOBILE_RE",
    "REGION_RE",
    "REGISTRY_ENV_PREFIX",
    "REGISTRY_ENV_RE",
    "RULE_NAME_RE",
    "RulesDocument",
    "validate_document",
]

RULE_NAME_RE = re.compile(r"^[a-z0-9-]{1,63}\Z")
# A rules file names the variables holding a channel's secrets; it may only name these, so a file (or
# whoever can apply one) can never make the functions read, send or print credentials such as
# ALIBABA_CLOUD_ACCESS_KEY_SECRET. Every *_env key of a channel follows this rule.
CHANNEL_ENV_PREFIX = "ACRSYNC_DINGTALK_"
CHANNEL_ENV_RE = re.compile(r"^ACRSYNC_DINGTALK_[A-Z0-9_]+\Z")
MOBILE_RE = re.compile(r"^\+?[0-9]{5,20}\Z")

_TOP_KEYS = ("version", "channels", "rules")
_CHANNEL_KEYS = ("dingtalk", "mention_mobiles")
_DINGTALK_KEYS = ("webhook_env", "secret_env")
_RULE_KEYS = ("name", "enabled", "alert", "source", "tags", "destinations", "prune", "prune_grace")
_SOURCE_KEYS = ("instance", "repositories", "exclude_repositories")
_TAGS_KEYS = ("include", "exclude", "include_prerelease")


@dataclass(frozen=True)
class RulesDocument:
    """A validated rules document: ``version``, channels by name, one JSON-able dict per rule in order."""

    version: int
    channels: Mapping[str, Mapping[str, Any]]
    rules: tuple[Mapping[str, Any], ...]

    @property
    def rule_names(self) -> tuple[str, ...]:
        """Names of the rules, in document order."""
        return tuple(str(r["name"]) for r in self.rules)


def validate_document(data: object) -> RulesDocument:
    """Validate a parsed rules file; return the normalised ``RulesDocument`` or raise ``RuleConfigError``."""
    c = Checker()
    top = c.mapping(data, "", _TOP_KEYS)
    if top is None:
        raise RuleConfigError(["(top level): must be a mapping with version, channels and rules"])
    version = top.get("version")
    if version != 1 or isinstance(version, bool):
        c.err("version", f"must be 1, got {kind_of(version)}")
    channels = _channels(c, top.get("channels", {}))
    raw_rules = top.get("rules")
    rules: list[dict[str, Any]] = []
    if not isinstance(raw_rules, list):
        c.err("rules", f"must be a list of rules, got {kind_of(raw_rules)}")
    else:
        seen: dict[str, int] = {}
        for i, raw in enumerate(raw_rules):
            rule = _rule(c, raw, f"rules[{i}]", channels)
            name = rule["name"]
            if name and name in seen:
                c.err(f"rules[{i}].name", f"duplicate rule name {show(name)} (also rules[{seen[name]}])")
            seen.setdefault(name, i)
            rules.append(rule)
    if c.errors:
        raise RuleConfigError(c.all_errors())
    return RulesDocument(version=1, channels=channels, rules=tuple(rules))


def _channels(c: Checker, raw: object) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if raw is None:
        return out
    if not isinstance(raw, Mapping):
        c.err("channels", f"must be a mapping of channel name to settings, got {kind_of(raw)}")
        return out
    for name, body in raw.items():
        path = f"channels.{path_key(name)}"
        if not isinstance(name, str) or not RULE_NAME_RE.match(name):
            c.err(path, "channel names use a-z, 0-9 and '-', at most 63 characters")
        out[str(name)] = _channel(c, body, path)
    return out


def _channel(c: Checker, body: object, path: str) -> dict[str, Any]:
    channel: dict[str, Any] = {"dingtalk": {"webhook_env": "", "secret_env": ""}, "mention_mobiles": []}
    if isinstance(body, Mapping):
        for secret_key in ("webhook", "secret"):  # inline at channel level: same refusal as inside dingtalk
            if secret_key in body:
                c.err(f"{path}.{secret_key}", _inline_secret(secret_key))
    m = c.mapping(body, path, (*_CHANNEL_KEYS, "webhook", "secret"))
    if m is None:
        return channel
    channel["dingtalk"] = _dingtalk(c, m.get("dingtalk"), f"{path}.dingtalk")
    mobiles = m.get("mention_mobiles", [])
    if isinstance(mobiles, list):
        # YAML reads an unquoted phone number as an int; a number is what was meant, so accept it.
        mobiles = [digits(x) for x in mobiles]
    channel["mention_mobiles"] = c.str_list(mobiles, f"{path}.mention_mobiles")
    for i, mobile in enumerate(channel["mention_mobiles"]):
        if not MOBILE_RE.match(mobile):
            c.err(f"{path}.mention_mobiles[{i}]", f"{show(mobile)} is not a phone number")
    return channel


def _dingtalk(c: Checker, raw: object, path: str) -> dict[str, str]:
    out = {"webhook_env": "", "secret_env": ""}
    if not isinstance(raw, Mapping):
        c.err(path, f"must be a mapping with webhook_env (and secret_env), got {kind_of(raw)}")
        return out
    inline = ("webhook", "secret", "access_token", "token")
    for secret_key in inline:
        if secret_key in raw:
            c.err(f"{path}.{secret_key}", _inline_secret(secret_key))
    c.mapping(raw, path, (*_DINGTALK_KEYS, *inline))
    if "webhook" not in raw:  # an inline webhook was already reported; one error per mistake
        out["webhook_env"] = _env_name(c, raw.get("webhook_env"), f"{path}.webhook_env")
    # Optional: an unsigned robot has no secret. "" is how a normalised channel says so, and a stored
    # document must validate again (rules apply re-validates), so "" is accepted as "unsigned" too.
    if raw.get("secret_env") not in (None, ""):
        out["secret_env"] = _env_name(c, raw.get("secret_env"), f"{path}.secret_env")
    return out


def _env_name(c: Checker, value: object, path: str) -> str:
    name = c.string(value, path)
    if name and not CHANNEL_ENV_RE.match(name):
        c.err(
            path,
            f"{show(name)} is not allowed: a rules file may only name environment variables that start "
            f"with {CHANNEL_ENV_PREFIX} followed by A-Z, 0-9 or _ (e.g. {CHANNEL_ENV_PREFIX}OPS_WEBHOOK), "
            "so it can never make acr-sync read credentials or other settings",
        )
    return name


def _inline_secret(key: str) -> str:
    env_key = "webhook_env" if key in ("webhook", "access_token", "token") else "secret_env"
    return (
        "secrets are never written in the rules file; put the value in an environment variable "
        f"and name it with {env_key} (e.g. {env_key}: ACRSYNC_DINGTALK_{env_key[:-4].upper()})"
    )


def _rule(c: Checker, raw: object, path: str, channels: Mapping[str, Any]) -> dict[str, Any]:
    m = c.mapping(raw, path, _RULE_KEYS) or {}
    name = c.string(m.get("name"), f"{path}.name", RULE_NAME_RE, "a rule name ([a-z0-9-], at most 63 chars)")
    alert = m.get("alert")
    if alert not in (None, ""):  # "" is how a normalised rule says "no channel": re-validation must accept it
        alert = c.string(alert, f"{path}.alert")
        if alert and alert not in channels:
            known = clip(", ".join(sorted(channels)), 200) or "none defined"
            c.err(f"{path}.alert", f"channel {show(alert)} is not defined under channels ({known})")
    tags = c.mapping(m.get("tags", {}), f"{path}.tags", _TAGS_KEYS) or {}
    include_prerelease = c.boolean(tags.get("include_prerelease"), f"{path}.tags.include_prerelease", False)
    if "source" not in m and isinstance(raw, Mapping):
        c.err(f"{path}.source", "is required (instance and repositories)")
    return {
        "name": name,
        "enabled": c.boolean(m.get("enabled"), f"{path}.enabled", True),
        "alert": alert or "",
        "source": _source(c, m.get("source", {}), f"{path}.source"),
        "tags": {
            "include": c.patterns(
                tags.get("include", []),
                f"{path}.tags.include",
                tags=True,
                include_prerelease=include_prerelease,
            ),
            "exclude": c.patterns(
                tags.get("exclude", []), f"{path}.tags.exclude", tags=True, include_prerelease=True
            ),
            "include_prerelease": include_prerelease,
        },
        "destinations": destinations(c, m.get("destinations"), f"{path}.destinations"),
        **reconcile_rule_keys(c, m, path),
    }


def _source(c: Checker, raw: object, path: str) -> dict[str, Any]:
    m = c.mapping(raw, path, _SOURCE_KEYS) or {}
    instance = c.string(m.get("instance"), f"{path}.instance", INSTANCE_RE, "an ACR EE instance id (cri-...)")
    repos = c.patterns(m.get("repositories", ["**"]), f"{path}.repositories", tags=False)
    if isinstance(m.get("repositories"), list) and not m["repositories"]:
        c.err(
            f"{path}.repositories", "is empty: list at least one pattern, or omit it to mean every repository"
        )
    return {
        "instance": instance,
        "repositories": repos,
        "exclude_repositories": c.patterns(
            m.get("exclude_repositories", []), f"{path}.exclude_repositories", tags=False
        ),
    }
