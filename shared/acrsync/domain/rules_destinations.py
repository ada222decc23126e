"""Validation of a rule's ``destinations``: an ACR EE destination (instance, region, name templates,
priority, cross-account ``account``, custom ``link``) or a copy destination (``registry:`` any OCI registry,
``credentials_env``), and the reconciler's keys (``prune``/``prune_grace`` on a rule, ``on_conflict`` and
``role_arn`` on a destination). Part of ``rules_schema``'s validation; errors go to its ``Checker``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from acrsync.domain.durations import parse_duration
from acrsync.domain.images import NAME_RE, TAG_RE
from acrsync.domain.oci import parse_registry_target
from acrsync.domain.quote import clip, show
from acrsync.domain.rules_checker import Checker, digits, kind_of
from acrsync.domain.rules_compile import TEMPLATE_FIELD_RE

# images.INSTANCE_RE refuses '-' after the prefix, but the examples/demo ids (cri-demo-src) use it; accept
# it here (proposed change to images.INSTANCE_RE in the report).
INSTANCE_RE = re.compile(r"^cri-[A-Za-z0-9][A-Za-z0-9-]*\Z")
REGION_RE = re.compile(r"^[a-z]{2,}-[a-z0-9-]+\Z")
# A rules file names the variable holding a copy destination's registry credentials; like a channel's
# (``rules_schema.CHANNEL_ENV_RE``) it may only name these (issue 10 #6: a rules file must not be able to
# point acr-sync at ALIBABA_CLOUD_ACCESS_KEY_SECRET or any other variable and have it sent to a registry).
REGISTRY_ENV_PREFIX = "ACRSYNC_REGISTRY_"
REGISTRY_ENV_RE = re.compile(r"^ACRSYNC_REGISTRY_[A-Z0-9_]+\Z")
ACCOUNT_RE = re.compile(r"^[0-9]{1,32}\Z")
LINK_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
TEMPLATE_FIELDS = ("namespace", "repo", "tag")

# Reconciler keys: written into the normalised rule only when not the default, so rules stored before these
# keys existed compare equal after a re-apply (no spurious "changed").
ON_CONFLICT = ("skip", "overwrite", "backup")
ROLE_ARN_RE = re.compile(r"^acs:ram::([0-9]{1,32}):role/[A-Za-z0-9._@-]{1,64}\Z")

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


def template_fields(template: str) -> list[str]:
    """The ``{field}`` names used in a template, in order (unknown ones included, for validation)."""
    return TEMPLATE_FIELD_RE.findall(template)


def destinations(c: Checker, raw: object, path: str) -> list[dict[str, Any]]:
    """A rule's ``destinations``: a non-empty list, each normalised (problems go to ``c``)."""
    if not isinstance(raw, list) or not raw:
        c.err(path, f"must be a non-empty list of destinations, got {kind_of(raw)}")
        return []
    return [_destination(c, item, f"{path}[{i}]") for i, item in enumerate(raw)]


def _destination(c: Checker, raw: object, path: str) -> dict[str, Any]:
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
    account = digits(account)  # YAML reads an unquoted account id as an int
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


def _link(c: Checker, m: Mapping[str, Any], dest: Mapping[str, Any], path: str) -> str:
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


def _registry_destination(c: Checker, m: Mapping[str, Any], path: str) -> dict[str, Any]:
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


def _copy_on_conflict(c: Checker, m: Mapping[str, Any], path: str) -> dict[str, Any]:
    """``on_conflict`` of a copy destination: the reconciler's answer to a tag there holding another digest
    (backup: the old manifest PUT again under ``<tag>-acrsync-backup-<UTC>``); ``role_arn`` means nothing."""
    if "role_arn" in m:
        c.err(f"{path}.role_arn", "a registry destination is reached with credentials_env, not a RAM role")
    return (
        reconcile_destination_keys(c, {"on_conflict": m["on_conflict"]}, path, "")
        if "on_conflict" in m
        else {}
    )


def _template(c: Checker, value: object, path: str, rx: re.Pattern[str]) -> str:
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


def reconcile_rule_keys(c: Checker, m: Mapping[str, Any], path: str) -> dict[str, Any]:
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


def reconcile_destination_keys(c: Checker, m: Mapping[str, Any], path: str, account: str) -> dict[str, Any]:
    """``on_conflict`` (skip | overwrite | backup, default skip) and ``role_arn`` (needs ``account``)."""
    out: dict[str, Any] = {}
    policy = m.get("on_conflict")
    if policy is not None and policy not in ON_CONFLICT:
        c.err(f"{path}.on_conflict", f"must be one of {', '.join(ON_CONFLICT)}, got {kind_of(policy)}")
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
