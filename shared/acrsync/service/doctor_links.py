"""``doctor``'s custom-link rows (``link:`` destinations), as far as ACR's API allows.

``alibabacloud-cr20181201`` has no action that lists or gets custom links: only sync rules and sync tasks
carry a ``LinkId`` (reference §2.5, §2.7). So a link is judged by what acr-sync made with it: its managed
manual rule (``ListRepoSyncRule`` on the source instance, found by ``LinkRoute.rule_name``) must still say
that link, that destination and ``INITIATIVE``; and the most recent finished task created from it
(``ListRepoSyncTask``: ``SyncRuleId``, ``TaskStatus``, ``TaskIssue``) says whether the link carried an image.
Before the first use there is nothing to look at: the row says so (WARN) with where to check by hand.

One row per distinct (source instance, destination instance, region, link) of the enabled rules.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from functools import partial
from typing import Any

from acrsync.domain.registry import SyncTask, TaskStatus
from acrsync.domain.rules import CompiledRule
from acrsync.domain.rules_eval import CompiledDestination, repository_selects
from acrsync.ports import RegistryApi, SyncRuleApi
from acrsync.service.doctor_guard import FAIL, PASS, RAM_FIX, WARN, Check, guarded
from acrsync.service.links import CONSOLE_PATH, RULE_PREFIX, LinkRoute, edited_fix, rule_problems

MAX_TASKS_READ = 500  # per managed rule's repository: ListRepoSyncTask answers newest first (⚠ assumed)
MAX_RULES_READ = 20  # managed rules whose tasks are read, most recently modified first
LINK_RAM_FIX = (
    "attach deploy/ram-policy.json to the role: these rows read cr:ListSyncRule (ListRepoSyncRule) and "
    "cr:GetRepositorySync (ListRepoSyncTask) on the source instance"
)
Key = tuple[str, str, str, str]  # source instance, destination instance, destination region, link


def link_checks(enabled: list[CompiledRule], links: SyncRuleApi, registry: RegistryApi) -> Iterator[Check]:
    """One row per distinct link destination; a failing ACR call is that row's FAIL (``guarded``)."""
    groups: dict[Key, list[tuple[CompiledRule, CompiledDestination]]] = {}
    for rule in enabled:
        for dest in rule.destinations:
            if dest.link and not dest.registry:
                key = (rule.instance, dest.instance, dest.region, dest.link)
                groups.setdefault(key, []).append((rule, dest))
    for key, pairs in sorted(groups.items()):
        name = f"custom link {key[3]} ({key[0]} → {key[1]})"
        rows = guarded(
            name, "ListRepoSyncRule/ListRepoSyncTask", partial(_link, name, key, pairs, links, registry)
        )
        yield from (dataclasses.replace(r, fix=LINK_RAM_FIX) if r.fix == RAM_FIX else r for r in rows)


def _link(
    name: str,
    key: Key,
    pairs: list[tuple[CompiledRule, CompiledDestination]],
    links: SyncRuleApi,
    registry: RegistryApi,
) -> Iterator[Check]:
    source, _, _, link = key
    ours = _managed(key, pairs, links.list_sync_rules(source))
    if not ours:
        yield Check(name, WARN, _UNCHECKABLE, _console_fix(source, link))
        return
    edited = [(rule, route, problems) for rule, route in ours if (problems := rule_problems(rule, route))]
    if edited:
        rule, route, problems = edited[0]
        rule_id = str(rule.get("SyncRuleId") or "")
        detail = f"managed rule {rule_id} ({route.source_namespace}/{route.source_repo}) was changed outside "
        more = f" (and {len(edited) - 1} more)" if len(edited) > 1 else ""
        yield Check(name, FAIL, detail + f"acr-sync: {'; '.join(problems)}{more}", edited_fix(rule_id, route))
        return
    yield _last_task(name, source, link, ours, registry)


_UNCHECKABLE = (
    "not proven: acr-sync has no sync rule with this link yet, and ACR's API cannot list custom links, so "
    "a link is proven only by a task over it (a wrong LinkId fails the first push's row with 'link ... not "
    "found', alerted)"
)


def _console_fix(instance: str, link: str) -> str:
    return f"check that {link} is listed in the {CONSOLE_PATH.format(instance=instance)}"


def _managed(
    key: Key, pairs: list[tuple[CompiledRule, CompiledDestination]], listed: list[Mapping[str, Any]]
) -> list[tuple[Mapping[str, Any], LinkRoute]]:
    """The listed rules acr-sync made for this link destination, each with the route it was made for.

    A rule's name is a hash of its route, so a rule is ours when the route built from its own source
    repository (and a rule + destination of this group that selects that repository) gives its name.
    """
    source, dest_instance, dest_region, link = key
    found = []
    for rule in listed:
        name = str(rule.get("SyncRuleName") or "")
        if not name.startswith(RULE_PREFIX):
            continue
        ns, repo = str(rule.get("LocalNamespaceName") or ""), str(rule.get("LocalRepoName") or "")
        for compiled, dest in pairs:
            if not repository_selects(compiled, f"{ns}/{repo}"):
                continue
            dest_ns = dest.namespace.render({"namespace": ns, "repo": repo, "tag": ""})
            route = LinkRoute(source, ns, repo, dest_instance, dest_region, dest_ns, repo, link)
            if route.rule_name == name:
                found.append((rule, route))
                break
    return found


def _last_task(
    name: str,
    source: str,
    link: str,
    ours: list[tuple[Mapping[str, Any], LinkRoute]],
    registry: RegistryApi,
) -> Check:
    newest = sorted(ours, key=lambda pair: int(pair[0].get("ModifiedTime") or 0), reverse=True)
    tasks: list[SyncTask] = []
    for rule, route in newest[:MAX_RULES_READ]:
        listed = registry.list_repo_sync_tasks(
            source, namespace=route.source_namespace, repo=route.source_repo
        )
        rule_id = str(rule.get("SyncRuleId") or "")
        tasks += [t for t in itertools.islice(listed, MAX_TASKS_READ) if t.rule_id == rule_id]
    finished = [t for t in tasks if t.status in (TaskStatus.SUCCESS, TaskStatus.ERROR)]
    rules = f"{len(ours)} managed rule(s)"
    if not finished:
        running = f"{len(tasks)} task(s) still running" if tasks else "no task created from them yet"
        detail = f"{rules}, {running}: the link has not carried an image yet, so it is not proven"
        return Check(
            name, WARN, detail, "run doctor again after the next push; " + _console_fix(source, link)
        )
    last = max(finished, key=lambda t: t.create_time_ms)
    image = _image(last)
    if last.status is TaskStatus.SUCCESS:
        return Check(name, PASS, f"carried task {last.task_id} ({image}) at {_when(last)}; {rules}")
    fix = (
        f"if the issue is the network or the link, check {link} and its CEN attachments in the "
        f"{CONSOLE_PATH.format(instance=source)}; otherwise fix what the issue names; then `acr-sync retry`"
    )
    issue = last.issue or "no TaskIssue"
    detail = f"the last task over it, {last.task_id} ({image}) at {_when(last)}, failed: {issue}"
    return Check(name, FAIL, detail, fix)


def _image(task: SyncTask) -> str:
    where = task.image_from
    return f"{where.namespace}/{where.repo}:{where.tag}" if where is not None else "?"


def _when(task: SyncTask) -> str:
    return datetime.fromtimestamp(task.create_time_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def run_link_checks(
    enabled: list[CompiledRule],
    region: str,
    links: Callable[[str], SyncRuleApi],
    registry: Callable[[str], RegistryApi],
) -> list[Check]:
    """The rows, or [] when no enabled rule names a link (clients are built only when there is one).
    ``region``: the source instances' (ACRSYNC_REGION), where their rules and tasks are read."""
    if not any(d.link and not d.registry for r in enabled for d in r.destinations):
        return []
    return guarded(
        "custom links", "cannot check them", lambda: link_checks(enabled, links(region), registry(region))
    )
