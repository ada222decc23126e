"""Validation of a rules document (the parsed YAML mapping) into plain, JSON-able rule dicts.

Every problem is collected with its path (``rules[2].destinations[0].priority: must be ...``); the result is
either a complete ``RulesDocument`` or ``RuleConfigError`` listing all of them, never a partial document.
Messages quote what the author wrote through ``domain.quote`` (bounded), and list at most ``MAX_ERRORS``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acrsync.domain.durations import parse_duration
from acrsync.domain.images import NAME_RE, TAG_RE
from acrsync.domain.oci import parse_registry_target
from acrsync.domain.patterns import split_pattern
from acrsync.domain.quote import clip, show
from acrsync.domain.rules_compile import TEMPLATE_FIELD_RE
from acrsync.domain.rules_limits import MAX_ERRORS, PatternBudget
from acrsync.errors import RuleConfigError

RULE_NAME_RE = re.compile(r"^[a-z0-9-]{1,63}\Z")
# images.INSTANCE_RE refuses '-' after the prefix, but the examples/demo ids (cri-demo-src) use it; accept
# it here (proposed change to images.INSTANCE_RE in the report).
INSTANCE_RE = re.compile(r"^cri-[A-Za-z0-9][A-Za-z0-9-]*\Z")
REGION_RE = re.compile(r"^[a-z]{2,}-[a-z0-9-]+\Z")
# A rules file names the variables holding a channel's secrets; it may only name these, so a file (or
# whoever can apply one) can never make the functions read, send or print credentials such as
# ALIBABA_CLOUD_ACCESS_KEY_SECRET. Every *_env key of a channel follows this rule.
CHANNEL_ENV_PREFIX = "ACRSYNC_DINGTALK_"
CHANNEL_ENV_RE = re.compile(r"^ACRSYNC_DINGTALK_[A-Z0-9_]+\Z")
# The same for a copy destination's registry credentials (issue 10 #6: a rules file must not be able to point
# acr-sync at ALIBABA_CLOUD_ACCESS_KEY_SECRET or any other variable and have it sent to a registry).
REGISTRY_ENV_PREFIX = "ACRSYNC_REGISTRY_"
REGISTRY_ENV_RE = re.compile(r"^ACRSYNC_REGISTRY_[A-Z0-9_]+\Z")
ACCOUNT_RE = re.compile(r"^[0-9]{1,32}\Z")
LINK_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
MOBILE_RE = re.compile(r"^\+?[0-9]{5,20}\Z")
TEMPLATE_FIELDS = ("namespace", "repo", "tag")

_TOP_KEYS = ("version", "channels", "rules")
_CHANNEL_KEYS = ("dingtalk", "mention_mobiles")
_DINGTALK_KEYS = ("webhook_env", "secret_env")
_RULE_KEYS = ("name", "enabled", "alert", "source", "tags", "destinations", "prune", "prune_grace")
_SOURCE_KEYS = ("instance", "repositories", "exclude_repositories")
_TAGS_KEYS = ("include", "exclude", "include_prerelease")
_DEST_KEYS = (
    "instance", "region", "namespace", "repository", "tag", "override", "priority", "account",
    "on_conflict", "role_arn",
)  # fmt: skip
# Copy destinations (any OCI registry) and their options; see ``_registry_destination``.
_COPY_KEYS = ("registry", "credentials_env", "companions", "on_conflict", "role_arn")
# Template defaults per destination field, and what a resolved value must look like.
_DEST_TEMPLATES = (
    ("namespace", "{namespace}", NAME_RE),
    ("repository", "{repo}", NAME_RE),
    ("tag", "{tag}", TAG_RE),
)
_NAME_GRAMMAR = (
    "lowercase letters and digits joined by one '.', one '_', '__' or dashes "
    "(no leading, trailing or doubled separators), at most 64 characters"
)
_TAG_GRAMMAR = "[A-Za-z0-9_.-], not starting with '.' or '-', at most 128 characters"


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
        self.unlisted = 0
        self.budget = PatternBudget()

    def err(self, path: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(f"{path}: {message}")
        else:
            self.unlisted += 1

    def all_errors(self) -> list[str]:
        more = [f"... and {self.unlisted:,} more problem(s) not listed"] if self.unlisted else []
        return self.errors + more

    def mapping(self, value: object, path: str, allowed: tuple[str, ...]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.err(path, f"must be a mapping, got {_kind(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.err(f"{path}.{_key(key)}" if path else _key(key), _unknown_key(key, allowed))
        return value

    def string(self, value: object, path: str, rx: re.Pattern[str] | None = None, what: str = "") -> str:
        if not isinstance(value, str) or not value:
            self.err(path, f"must be a non-empty string, got {_kind(value)}")
            return ""
        if rx is not None and not rx.match(value):
            self.err(path, f"{show(value)} is not {what}")
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
            problem = problem or self.budget.problem(text, include_prerelease)
            if problem:
                self.err(f"{path}[{i}]", problem)
        return out


def _repository_pattern_problem(text: str) -> str:
    kind, body = split_pattern(text)
    if kind == "semver":
        return f"{show(text)}: semver: patterns apply to tags, not repositories"
    if kind == "glob" and "/" not in body and "**" not in body:
        # '*' never crosses '/', so a glob without one can never match NAMESPACE/REPO.
        short = clip(body, 40)
        return f"{show(text)} never matches NAMESPACE/REPO (did you mean '*/{short}' or '{short}/*'?)"
    return ""


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    shown = show(value)
    if isinstance(value, (int, float, str)) and not shown.startswith("an integer of"):
        return f"{type(value).__name__} {shown}"
    return shown


def _digits(value: object) -> object:
    """An int as its digits (YAML reads unquoted ids and phone numbers as ints); anything else unchanged.

    A huge int stays an int (and is refused): ``str()`` of one is slow, or raises past 4,300 digits.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() <= 128:
        return str(value)
    return value


def _key(key: object) -> str:
    """A mapping key as it appears in a path: bounded, whatever YAML made of it."""
    return clip(key, 40) if isinstance(key, str) else show(key, 40)


def _unknown_key(raw: object, allowed: tuple[str, ...]) -> str:
    key = raw if isinstance(raw, str) and len(raw) <= 64 else ""  # difflib is quadratic in the key
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.5) if key else []
    aliases = {"repos": "repositories", "repository": "repositories", "exclude_repos": "exclude_repositories"}
    guess = close[0] if close else aliases.get(key)
    if guess is None and key and key.rstrip("s") in allowed:
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
                c.err(f"rules[{i}].name", f"duplicate rule name {show(name)} (also rules[{seen[name]}])")
            seen.setdefault(name, i)
            rules.append(rule)
    if c.errors:
        raise RuleConfigError(c.all_errors())
    return RulesDocument(version=1, channels=channels, rules=tuple(rules))


def _channels(c: _Checker, raw: object) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if raw is None:
        return out
    if not isinstance(raw, Mapping):
        c.err("channels", f"must be a mapping of channel name to settings, got {_kind(raw)}")
        return out
    for name, body in raw.items():
        path = f"channels.{_key(name)}"
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
        mobiles = [_digits(x) for x in mobiles]
    channel["mention_mobiles"] = c.str_list(mobiles, f"{path}.mention_mobiles")
    for i, mobile in enumerate(channel["mention_mobiles"]):
        if not MOBILE_RE.match(mobile):
            c.err(f"{path}.mention_mobiles[{i}]", f"{show(mobile)} is not a phone number")
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
    if "webhook" not in raw:  # an inline webhook was already reported; one error per mistake
        out["webhook_env"] = _env_name(c, raw.get("webhook_env"), f"{path}.webhook_env")
    # Optional: an unsigned robot has no secret. "" is how a normalised channel says so, and a stored
    # document must validate again (rules apply re-validates), so "" is accepted as "unsigned" too.
    if raw.get("secret_env") not in (None, ""):
        out["secret_env"] = _env_name(c, raw.get("secret_env"), f"{path}.secret_env")
    return out


def _env_name(c: _Checker, value: object, path: str) -> str:
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


def _rule(c: _Checker, raw: object, path: str, channels: Mapping[str, Any]) -> dict[str, Any]:
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
        "destinations": _destinations(c, m.get("destinations"), f"{path}.destinations"),
        **reconcile_rule_keys(c, m, path),
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
        c.err(f"{path}.priority", f"must be an integer 1..5, got {show(priority)}")
        priority = 3
    dest["priority"] = priority
    account = m.get("account", "")
    account = _digits(account)  # YAML reads an unquoted account id as an int
    if account != "" and (not isinstance(account, str) or not ACCOUNT_RE.match(account)):
        c.err(f"{path}.account", f"must be an Alibaba Cloud account id (digits), got {show(account)}")
        account = ""
    dest["account"] = account
    dest.update(reconcile_destination_keys(c, m, path, account))
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
    if registry and registry != registry.strip():  # it names the destination in keys, status and alerts
        c.err(f"{path}.registry", "has leading or trailing whitespace (a newline?): remove it")
    elif registry:
        try:
            parse_registry_target(registry)
        except ValueError as exc:
            c.err(f"{path}.registry", str(exc))
    dest: dict[str, Any] = {"registry": registry, "credentials_env": ""}
    # Optional: anonymous push to a registry that allows it. "" is how a normalised destination says so, and
    # a stored document must validate again (rules apply re-validates), so "" is accepted as "none" too.
    if m.get("credentials_env") not in (None, ""):
        what = (
            f"a variable name starting with {REGISTRY_ENV_PREFIX} that holds USERNAME:PASSWORD "
            f"(e.g. {REGISTRY_ENV_PREFIX}HARBOR): a rules file may not name other variables"
        )
        dest["credentials_env"] = c.string(
            m["credentials_env"], f"{path}.credentials_env", REGISTRY_ENV_RE, what
        )
    for key, default, rx in _DEST_TEMPLATES:
        dest[key] = _template(c, m.get(key, default), f"{path}.{key}", rx)
    dest["companions"] = c.boolean(m.get("companions"), f"{path}.companions", True)
    dest.update(_copy_on_conflict(c, m, path))
    return dest


def _copy_on_conflict(c: _Checker, m: Mapping[str, Any], path: str) -> dict[str, Any]:
    """``on_conflict`` of a copy destination: the reconciler's answer to a tag there holding another digest
    (backup: the old manifest PUT again under ``<tag>-acrsync-backup-<UTC>``); ``role_arn`` means nothing."""
    if "role_arn" in m:
        c.err(f"{path}.role_arn", "a registry destination is reached with credentials_env, not a RAM role")
    return (
        reconcile_destination_keys(c, {"on_conflict": m["on_conflict"]}, path, "")
        if "on_conflict" in m
        else {}
    )


def _template(c: _Checker, value: object, path: str, rx: re.Pattern[str]) -> str:
    text = c.string(value, path)
    if not text:
        return ""
    fields = template_fields(text)
    unknown = [f for f in fields if f not in TEMPLATE_FIELDS]
    if unknown:
        c.err(path, f"unknown template field {{{clip(unknown[0])}}} (use {{namespace}}, {{repo}} or {{tag}})")
    elif "{" in TEMPLATE_FIELD_RE.sub("", text) or "}" in TEMPLATE_FIELD_RE.sub("", text):
        c.err(path, f"{show(text)} has an unbalanced brace")
    elif not rx.match(sample := TEMPLATE_FIELD_RE.sub("a", text)):
        # Field values are valid names themselves (alphanumeric at both ends), so rendering each as "a"
        # shows exactly what the literal text adds: "a..{namespace}" can only ever make "a..x" names.
        grammar = _TAG_GRAMMAR if rx is TAG_RE else _NAME_GRAMMAR
        what, many = ("tag", "tags") if rx is TAG_RE else ("ACR name", "names")
        if fields:
            c.err(path, f"{show(text)} makes invalid {what}s such as {show(sample)}: {many} are {grammar}")
        else:
            c.err(path, f"{show(text)} is not a valid {what}: {many} are {grammar}")
    return text


# ---------------------------------------------------------------------------------- reconciler keys
# Written into the normalised rule only when not the default, so rules stored before these keys existed
# compare equal after a re-apply (no spurious "changed").
ON_CONFLICT = ("skip", "overwrite", "backup")
ROLE_ARN_RE = re.compile(r"^acs:ram::([0-9]{1,32}):role/[A-Za-z0-9._@-]{1,64}\Z")


def reconcile_rule_keys(c: _Checker, m: Mapping[str, Any], path: str) -> dict[str, Any]:
    """``prune`` (bool, default false) and ``prune_grace`` (a duration as ``status --since`` takes it)."""
    out: dict[str, Any] = {}
    if c.boolean(m.get("prune"), f"{path}.prune", False):
        out["prune"] = True
    grace = m.get("prune_grace")
    if grace is not None:
        text = c.string(grace, f"{path}.prune_grace")
        try:
            parse_duration(text)
            out["prune_grace"] = text
        except ValueError as exc:
            if text:
                c.err(f"{path}.prune_grace", str(exc))
    return out


def reconcile_destination_keys(c: _Checker, m: Mapping[str, Any], path: str, account: str) -> dict[str, Any]:
    """``on_conflict`` (skip | overwrite | backup, default skip) and ``role_arn`` (needs ``account``)."""
    out: dict[str, Any] = {}
    policy = m.get("on_conflict")
    if policy is not None and policy not in ON_CONFLICT:
        c.err(f"{path}.on_conflict", f"must be one of {', '.join(ON_CONFLICT)}, got {_kind(policy)}")
    elif policy not in (None, "skip"):
        out["on_conflict"] = policy
    role = m.get("role_arn")
    if role is not None:
        text = c.string(role, f"{path}.role_arn")
        match = ROLE_ARN_RE.match(text) if text else None
        if text and match is None:
            c.err(f"{path}.role_arn", f"{show(text)} is not a RAM role ARN (acs:ram::ACCOUNT_ID:role/NAME)")
        elif match is not None and not account:
            c.err(f"{path}.role_arn", "needs account: (the role is read in that account)")
        elif match is not None and match.group(1) != account:
            c.err(f"{path}.role_arn", f"names account {match.group(1)}, but account is {account}")
        elif match is not None:
            out["role_arn"] = text
    return out
