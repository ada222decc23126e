"""Custom replication links: a destination with ``link: <LinkId>`` is submitted through a manual sync rule.

ACR's replication guide asks for a custom link where a region restricts public OSS access. A sync task over
such a link is created with ``CreateRepoSyncTaskByRule`` (``InstanceId, RepoId, Tag, SyncRuleId,
Priority``; manual ``INITIATIVE`` rules only, no tag rename — reference "ACR OpenAPI additions"), so acr-sync
keeps one manual rule per (source repository, destination repository, link), named deterministically, found
with ``ListRepoSyncRule`` and created with ``CreateRepoSyncRule`` the first time. The task it returns is
followed like any other (``GetRepoSyncTask``); reconciliation after a crash works the same, because the task
is listed by ``ListRepoSyncTask`` with its source and destination.

A rule found under acr-sync's name that no longer says what acr-sync asked for (edited in the console: another
link, destination or trigger) is not used: the row fails saying what changed and what to do, instead of
sending the image somewhere else. ``doctor`` (``doctor_links``) checks the same with ``rule_problems``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from acrsync.domain.ledger import LedgerEntry
from acrsync.errors import LinkRejected, UpstreamRejected
from acrsync.logging import get_logger
from acrsync.ports import SyncRuleApi

log = get_logger(__name__)

RULE_PREFIX = "acrsync-"
# Where a custom link is seen and made (alibabacloud.com/help/en/acr/user-guide/accelerate-image-replication).
CONSOLE_PATH = "ACR console → instance {instance} → Distribution → Instance Replication → custom sync links"


@dataclass(frozen=True, slots=True)
class LinkRoute:
    """What one managed rule connects: a source repository to a destination repository over a link."""

    source_instance: str
    source_namespace: str
    source_repo: str
    dest_instance: str
    dest_region: str
    dest_namespace: str
    dest_repo: str
    link: str

    @property
    def rule_name(self) -> str:
        """``acrsync-<16 hex>``: the same name for the same source repo, destination repo and link."""
        key = "|".join(
            (
                self.source_namespace,
                self.source_repo,
                self.dest_instance,
                self.dest_region,
                self.dest_namespace,
                self.dest_repo,
                self.link,
            )
        )
        return RULE_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:16]

    def spec(self) -> dict[str, str]:
        """``CreateRepoSyncRule``'s wire-named parameters for this route (reference §2.7)."""
        return {
            "InstanceId": self.source_instance,
            "NamespaceName": self.source_namespace,
            "RepoName": self.source_repo,
            "SyncRuleName": self.rule_name,
            "SyncScope": "REPO",
            "SyncTrigger": "INITIATIVE",
            "TagFilter": ".*",
            "TargetInstanceId": self.dest_instance,
            "TargetRegionId": self.dest_region,
            "TargetNamespaceName": self.dest_namespace,
            "TargetRepoName": self.dest_repo,
            "LinkId": self.link,
        }


def route_of(entry: LedgerEntry) -> LinkRoute:
    """The route of a ledger row whose destination names a link."""
    return LinkRoute(
        entry.source_instance,
        entry.source_namespace,
        entry.source_repo,
        entry.dest_instance,
        entry.dest_region,
        entry.dest_namespace,
        entry.dest_repo,
        entry.extra.get("link", ""),
    )


def rule_name(entry: LedgerEntry) -> str:
    """The managed rule's name for a row (``LinkRoute.rule_name``; doctor builds the route without a row)."""
    return route_of(entry).rule_name


# (ListRepoSyncRule field, what it must say) for a rule acr-sync may submit by
_EXPECTED: tuple[tuple[str, Callable[[LinkRoute], str]], ...] = (
    ("SyncTrigger", lambda r: "INITIATIVE"),
    ("LinkId", lambda r: r.link),
    ("TargetInstanceId", lambda r: r.dest_instance),
    ("TargetRegionId", lambda r: r.dest_region),
    ("TargetNamespaceName", lambda r: r.dest_namespace),
)


def rule_problems(rule: Mapping[str, Any], route: LinkRoute) -> list[str]:
    """What a listed rule says differently from what acr-sync created it with; [] if nothing."""
    problems = [
        f"{key} is {str(rule.get(key) or '')!r}, not {want(route)!r}"
        for key, want in _EXPECTED
        if str(rule.get(key) or "") != want(route)
    ]
    target_repo = str(rule.get("TargetRepoName") or "")
    if target_repo not in ("", route.dest_repo):  # "": the source repository's own name
        problems.append(f"TargetRepoName is {target_repo!r}, not {route.dest_repo!r}")
    return problems


def edited_fix(rule_id: str, route: LinkRoute) -> str:
    """What to do about a managed rule changed outside acr-sync."""
    where = CONSOLE_PATH.format(instance=route.source_instance).replace(" → custom sync links", "")
    return (
        f"delete sync rule {rule_id} ({where}); acr-sync creates it again at the next push or "
        "`acr-sync retry`"
    )


def submit_by_link(api: SyncRuleApi, entry: LedgerEntry) -> str:
    """Ensure the manual rule for this row's link exists, then create the task by rule; the task id.

    Raises ``LinkRejected`` (the row fails as ``link_refused``, alerted) when ACR refuses the rule or the
    task, or when the rule under acr-sync's name was edited; ``RetryableError`` passes through untouched.
    """
    route = route_of(entry)
    name = route.rule_name
    rule = api.find_sync_rule(
        entry.source_instance, name, namespace=entry.source_namespace, repo=entry.source_repo
    )
    if rule is None:
        try:
            rule_id = api.create_sync_rule(route.spec())
        except UpstreamRejected as exc:
            raise refused_rule(route, exc) from None
        log.info("sync_rule_created", rule_id=rule_id, name=name, link=route.link)
    else:
        rule_id = str(rule.get("SyncRuleId") or "")
        problems = rule_problems(rule, route)
        if problems:
            log.error("sync_rule_edited", rule_id=rule_id, name=name, link=route.link, problems=problems)
            raise LinkRejected(
                f"manual sync rule {name} ({rule_id}) for link {route.link} was changed outside acr-sync: "
                f"{'; '.join(problems)}; not used: {edited_fix(rule_id, route)}",
                code="LinkRuleEdited",
            )
    try:
        return api.create_task_by_rule(
            entry.source_instance, entry.source_repo_id, entry.source_tag, rule_id, entry.priority
        )
    except UpstreamRejected as exc:
        raise LinkRejected(
            f"CreateRepoSyncTaskByRule over link {route.link} (rule {rule_id}) refused: {exc}", code=exc.code
        ) from None


def link_not_found(code: str) -> bool:
    """Whether a refusal code says the link does not exist.

    ⚠ UNVERIFIED: ACR does not publish the code for an unknown ``LinkId``; the emulator answers
    ``LINK_NOT_EXIST`` by analogy with ``REPO_NOT_EXIST``. Any code naming a link counts, so a differently
    spelt real code still gets the precise message; any other refusal gets the general one (both say what
    to do).
    """
    return "LINK" in code.upper()


def refused_rule(route: LinkRoute, exc: UpstreamRejected) -> LinkRejected:
    """The row's error when ``CreateRepoSyncRule`` for a link is refused: what happened and what to do."""
    where = CONSOLE_PATH.format(instance=route.source_instance)
    if link_not_found(exc.code):
        text = (
            f"link {route.link} not found on instance {route.source_instance} (CreateRepoSyncRule answered "
            f"{exc.code}): check the LinkId in the {where} and fix `link:` in the rules, then "
            "`acr-sync retry`"
        )
    else:
        text = (
            f"CreateRepoSyncRule for link {route.link} on instance {route.source_instance} refused: {exc}. "
            f"If the LinkId is wrong, check it in the {where}; if access is denied, grant cr:CreateSyncRule "
            "and cr:ListSyncRule (deploy/ram-policy.json); then `acr-sync retry`"
        )
    log.error("sync_rule_refused", link=route.link, instance=route.source_instance, code=exc.code)
    return LinkRejected(text, code=exc.code)
