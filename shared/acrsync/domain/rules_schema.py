"""Validation of a rules document (the parsed YAML mapping) into plain, JSON-able rule dicts.

Every problem is collected with its path (``rules[2].destinations[0].priority: must be ...``); the result is
either a complete ``RulesDocument`` or ``RuleConfigError`` listing all of them, never a partial document.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acrsync.domain.images import NAME_RE, TAG_RE
from acrsync.domain.oci import parse_registry_target
from acrsync.domain.patterns import PatternError, compile_pattern, split_pattern
from acrsync.domain.rules_compile import TEMPLATE_FIELD_RE
from acrsync.errors import RuleConfigError

RULE_NAME_RE = re.compile(r"^[a-z0-9-]{1,63}$")
# images.INSTANCE_RE refuses '-' after the prefix, but the examples/demo ids (cri-demo-src) use it; accept
# it here (proposed change to images.INSTANCE_RE in the report).
INSTANCE_RE = re.compile(r"^cri-[A-Za-z0-9][A-Za-z0-9-]*$")
REGION_RE = re.compile(r"^[a-z]{2,}-[a-z0-9-]+$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ACCOUNT_RE = re.compile(r"^[0-9]{1,32}$")
LINK_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MOBILE_RE = re.compile(r"^\+?[0-9]{5,20}$")
TEMPLATE_FIELDS = ("namespace", "repo", "tag")

_TOP_KEYS = ("version", "channels", "rules")
_CHANNEL_KEYS = ("dingtalk", "mention_mobiles")
_DINGTALK_KEYS = ("webhook_env", "secret_env")
_RULE_KEYS = ("name", "enabled", "alert", "source", "tags", "destinations")
_SOURCE_KEYS = ("instance", "repositories", "exclude_repositories")
_TAGS_KEYS = ("include", "exclude", "include_prerelease")
_DEST_KEYS = ("instance", "region", "namespace", "repository", "tag", "override", "priority", "account")
# Copy destinations (any OCI registry) and their options; see ``_registry_destination``.
_COPY_KEYS = ("registry", "credentials_env", "companions")
# Template defaults per destination field, and what a resolved value must look like.
_DEST_TEMPLATES = (
    ("namespace", "{namespace}", NAME_RE),
    ("repository", "{repo}", NAME_RE),
    ("tag", "{tag}", TAG_RE),
)


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


def template_fields(template: str) -> list[str]:
    """The ``{field}`` names used in a template, in order (unknown ones included, for validation)."""
    return TEMPLATE_FIELD_RE.findall(template)


class _Checker:
    """Collects ``path: message`` errors while normalising the document."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def err(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def mapping(self, value: object, path: str, allowed: tuple[str, ...]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.err(path, f"must be a mapping, got {_kind(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.err(f"{path}.{key}" if path else str(key), _unknown_key(str(key), allowed))
        return value

    def string(self, value: object, path: str, rx: re.Pattern[str] | None = None, what: str = "") -> str:
        if not isinstance(value, str) or not value:
            self.err(path, f"must be a non-empty string, got {_kind(value)}")
            return ""
        if rx is not None and not rx.match(value):
            self.err(path, f"{value!r} is not {what}")
        return value

    def boolean(self, value: object, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.err(path, f"must be true or false, got {_kind(value)}")
            return default
        return value

    def str_list(self, value: object, path: str) -> list[str]:
        if not isinstance(value, list):
            self.err(path, f"must be a list of strings, got {_kind(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str) and item:
                out.append(item)
            else:
                self.err(f"{path}[{i}]", f"must be a non-empty string, got {_kind(item)}")
        return out

    def patterns(
        self, value: object, path: str, *, tags: bool, include_prerelease: bool = False
    ) -> list[str]:
        out = self.str_list(value, path)
        for i, text in enumerate(out):
            problem = "" if tags else _repository_pattern_problem(text)
            if problem:
                self.err(f"{path}[{i}]", problem)
                continue
            try:
                compile_pattern(text, include_prerelease=include_prerelease)
            except PatternError as exc:
                self.err(f"{path}[{i}]", str(exc))
        return out


def _repository_pattern_problem(text: str) -> str:
    kind, body = split_pattern(text)
    if kind == "semver":
        return f"{text!r}: semver: patterns apply to tags, not repositories"
    if kind == "glob" and "/" not in body and "**" not in body:
        # '*' never crosses '/', so a glob without one can never match NAMESPACE/REPO.
        return f"{text!r} never matches NAMESPACE/REPO (did you mean '*/{body}' or '{body}/*'?)"
    return ""


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float, str)):
        return f"{type(value).__name__} {value!r}"
    return {"list": "a list", "dict": "a mapping"}.get(type(value).__name__, type(value).__name__)


def _unknown_key(key: str, allowed: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.5)
    aliases = {"repos": "repositories", "repository": "repositories", "exclude_repos": "exclude_repositories"}
    guess = close[0] if close else aliases.get(key)
    if guess is None and key.rstrip("s") in allowed:
        guess = key.rstrip("s")
    return (
        f"unknown key (did you mean {guess!r}?)" if guess else f"unknown key (allowed: {', '.join(allowed)})"
    )


def validate_document(data: object) -> RulesDocument:
    """Validate a parsed rules file; return the normalised ``RulesDocument`` or raise ``RuleConfigError``."""
    c = _Checker()
    top = c.mapping(data, "", _TOP_KEYS)
    if top is None:
        raise RuleConfigError(["(top level): must be a mapping with version, channels and rules"])
    version = top.get("version")
    if version != 1 or isinstance(version, bool):
        c.err("version", f"must be 1, got {_kind(version)}")
    channels = _channels(c, top.get("channels", {}))
    raw_rules = top.get("rules")
    rules: list[dict[str, Any]] = []
    if not isinstance(raw_rules, list):
        c.err("rules", f"must be a list of rules, got {_kind(raw_rules)}")
    else:
        seen: dict[str, int] = {}
        for i, raw in enumerate(raw_rules):
            rule = _rule(c, raw, f"rules[{i}]", channels)
            name = rule["name"]
            if name and name in seen:
                c.err(f"rules[{i}].name", f"duplicate rule name {name!r} (also rules[{seen[name]}])")
            seen.setdefault(name, i)
            rules.append(rule)
    if c.errors:
        raise RuleConfigError(c.errors)
    return RulesDocument(version=1, channels=channels, rules=tuple(rules))


def _channels(c: _Checker, raw: object) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if raw is None:
        return out
    if not isinstance(raw, Mapping):
        c.err("channels", f"must be a mapping of channel name to settings, got {_kind(raw)}")
        return out
    for name, body in raw.items():
        path = f"channels.{name}"
        if not isinstance(name, str) or not RULE_NAME_RE.match(name):
            c.err(path, "channel names use a-z, 0-9 and '-', at most 63 characters")
        out[str(name)] = _channel(c, body, path)
    return out


def _channel(c: _Checker, body: object, path: str) -> dict[str, Any]:
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
        mobiles = [str(x) if isinstance(x, int) and not isinstance(x, bool) else x for x in mobiles]
    channel["mention_mobiles"] = c.str_list(mobiles, f"{path}.mention_mobiles")
    for i, mobile in enumerate(channel["mention_mobiles"]):
        if not MOBILE_RE.match(mobile):
            c.err(f"{path}.mention_mobiles[{i}]", f"{mobile!r} is not a phone number")
    return channel


def _dingtalk(c: _Checker, raw: object, path: str) -> dict[str, str]:
    out = {"webhook_env": "", "secret_env": ""}
    if not isinstance(raw, Mapping):
        c.err(path, f"must be a mapping with webhook_env (and secret_env), got {_kind(raw)}")
        return out
    inline = ("webhook", "secret", "access_token", "token")
    for secret_key in inline:
        if secret_key in raw:
            c.err(f"{path}.{secret_key}", _inline_secret(secret_key))
    c.mapping(raw, path, (*_DINGTALK_KEYS, *inline))
    what = "an environment variable name (e.g. ACRSYNC_DINGTALK_WEBHOOK)"
    if "webhook" not in raw:  # an inline webhook was already reported; one error per mistake
        out["webhook_env"] = c.string(raw.get("webhook_env"), f"{path}.webhook_env", ENV_NAME_RE, what)
    if raw.get("secret_env") is not None:  # optional: an unsigned robot has no secret
        out["secret_env"] = c.string(raw.get("secret_env"), f"{path}.secret_env", ENV_NAME_RE, what)
    return out


def _inline_secret(key: str) -> str:
    env_key = "webhook_env" if key in ("webhook", "access_token", "token") else "secret_env"
    return (
        "secrets are never written in the rules file; put the value in an environment variable "
        f"and name it with {env_key} (e.g. {env_key}: ACRSYNC_DINGTALK_{env_key[:-4].upper()})"
    )


def _rule(c: _Checker, raw: object, path: str, channels: Mapping[str, Any]) -> dict[str, Any]:
    m = c.mapping(raw, path, _RULE_KEYS) or {}
    name = c.string(m.get("name"), f"{path}.name", RULE_NAME_RE, "a rule name ([a-z0-9-], at most 63 chars)")
    alert = m.get("alert")
    if alert not in (None, ""):  # "" is how a normalised rule says "no channel": re-validation must accept it
        alert = c.string(alert, f"{path}.alert")
        if alert and alert not in channels:
            known = ", ".join(sorted(channels)) or "none defined"
            c.err(f"{path}.alert", f"channel {alert!r} is not defined under channels ({known})")
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
        "destinations": _destinations(c, m.get("destinations"), f"{path}.destinations"),
    }


def _source(c: _Checker, raw: object, path: str) -> dict[str, Any]:
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


def _destinations(c: _Checker, raw: object, path: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        c.err(path, f"must be a non-empty list of destinations, got {_kind(raw)}")
        return []
    return [_destination(c, item, f"{path}[{i}]") for i, item in enumerate(raw)]


def _destination(c: _Checker, raw: object, path: str) -> dict[str, Any]:
    if isinstance(raw, Mapping) and "registry" in raw:
        return _registry_destination(c, raw, path)
    m = c.mapping(raw, path, (*_DEST_KEYS, "companions", "link")) or {}
    dest: dict[str, Any] = {
        "instance": c.string(
            m.get("instance"), f"{path}.instance", INSTANCE_RE, "an ACR EE instance id (cri-...)"
        ),
        "region": c.string(m.get("region"), f"{path}.region", REGION_RE, "a region id (e.g. cn-shanghai)"),
    }
    for key, default, rx in _DEST_TEMPLATES:
        dest[key] = _template(c, m.get(key, default), f"{path}.{key}", rx)
    dest["override"] = c.boolean(m.get("override"), f"{path}.override", False)
    priority = m.get("priority", 3)
    if not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 5:
        c.err(f"{path}.priority", f"must be an integer 1..5, got {priority!r}")
        priority = 3
    dest["priority"] = priority
    account = m.get("account", "")
    if isinstance(account, int) and not isinstance(account, bool):
        account = str(account)  # YAML reads an unquoted account id as an int
    if account != "" and (not isinstance(account, str) or not ACCOUNT_RE.match(account)):
        c.err(f"{path}.account", f"must be an Alibaba Cloud account id (digits), got {account!r}")
        account = ""
    dest["account"] = account
    if "companions" in m:  # opt-in for ACR sync destinations
        dest["companions"] = c.boolean(m.get("companions"), f"{path}.companions", False)
    if m.get("link") is not None:
        dest["link"] = _link(c, m, dest, path)
    return dest


def _link(c: _Checker, m: Mapping[str, Any], dest: Mapping[str, Any], path: str) -> str:
    """``link: <LinkId>``: submitted with ``CreateRepoSyncTaskByRule``, which cannot rename anything."""
    link = c.string(m.get("link"), f"{path}.link", LINK_RE, "a custom link id (letters, digits, '-', '_')")
    renamed = [k for k, default, _ in _DEST_TEMPLATES if k != "namespace" and dest.get(k) != default]
    if link and renamed:
        c.err(
            f"{path}.link",
            f"a custom link submits with CreateRepoSyncTaskByRule, which cannot rename tags or repositories: "
            f"remove {' and '.join(renamed)} (or the link)",
        )
    if link and dest.get("account"):
        c.err(f"{path}.link", "a custom link cannot be combined with a cross-account destination (account)")
    return link


def _registry_destination(c: _Checker, m: Mapping[str, Any], path: str) -> dict[str, Any]:
    """``registry: HOST[/NAMESPACE]`` (+ ``credentials_env``): served by copying over the OCI API."""
    c.mapping(m, path, (*_COPY_KEYS, "namespace", "repository", "tag"))
    for key in ("instance", "region"):
        if key in m:
            c.err(f"{path}.{key}", "a destination is either an ACR instance or a registry, not both")
    registry = c.string(m.get("registry"), f"{path}.registry")
    if registry:
        try:
            parse_registry_target(registry)
        except ValueError as exc:
            c.err(f"{path}.registry", str(exc))
    dest: dict[str, Any] = {"registry": registry, "credentials_env": ""}
    if m.get("credentials_env") is not None:  # optional: anonymous push to a registry that allows it
        what = "an environment variable name holding USERNAME:PASSWORD (e.g. ACRSYNC_HARBOR_CREDENTIALS)"
        dest["credentials_env"] = c.string(m["credentials_env"], f"{path}.credentials_env", ENV_NAME_RE, what)
    for key, default, rx in _DEST_TEMPLATES:
        dest[key] = _template(c, m.get(key, default), f"{path}.{key}", rx)
    dest["companions"] = c.boolean(m.get("companions"), f"{path}.companions", True)
    return dest


def _template(c: _Checker, value: object, path: str, rx: re.Pattern[str]) -> str:
    text = c.string(value, path)
    if not text:
        return ""
    fields = template_fields(text)
    unknown = [f for f in fields if f not in TEMPLATE_FIELDS]
    if unknown:
        c.err(path, f"unknown template field {{{unknown[0]}}} (use {{namespace}}, {{repo}} or {{tag}})")
    elif "{" in TEMPLATE_FIELD_RE.sub("", text) or "}" in TEMPLATE_FIELD_RE.sub("", text):
        c.err(path, f"{text!r} has an unbalanced brace")
    elif not fields and not rx.match(text):
        what = "a valid tag ([A-Za-z0-9_.-], at most 128 chars)" if rx is TAG_RE else "a valid ACR name"
        c.err(path, f"{text!r} is not {what}")
    return text
