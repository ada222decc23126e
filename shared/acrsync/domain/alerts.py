"""What an alert says: failures grouped into one message per group and window, rendered as DingTalk markdown.

Pure: ledger rows in, ``AlertMessage`` out. The watcher decides *when* to send (and claims the group's
``alert_key`` so only one instance does); this module only decides *what* the message says.

A group is (rule, destination instance/region/namespace/repo, error class, alert channel) within a
tumbling window aligned to the epoch, so every function instance computes the same groups and the same
``alert_key`` for the same failures. Message size is bounded: DingTalk refuses bodies over 20,000 bytes
(errcode ``460101`` "message too long, exceed 20000 bytes", seen in
https://github.com/timonwong/prometheus-webhook-dingtalk/issues/30 and
https://github.com/feiyu563/PrometheusAlert/issues/318), so the text keeps well under that and ends with
"…and N more" when entries are left out.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from acrsync.domain.ledger import LedgerEntry
from acrsync.domain.messages import AlertMessage

__all__ = ["AlertMessage"]  # re-exported: renderers and notifier share one value


DINGTALK_MAX_BODY_BYTES = 20_000
# Room for the JSON envelope, escaping (each newline becomes two bytes), the title and @mentions.
TEXT_BUDGET_BYTES = 15_000
MAX_ENTRIES_SHOWN = 10
ISSUE_MAX_CHARS = 300
DEFAULT_WINDOW_S = 300.0
# Where the watcher records the digest it found at the destination when verification fails.
FOUND_DIGEST_KEY = "found_digest"
# Where the watcher may record the deadline (epoch seconds) a stuck task missed.
DEADLINE_KEY = "deadline"

_KINDS: dict[str, tuple[str, str]] = {
    # error_class: (title phrase, what it means for the reader)
    "task_error": ("sync task failed", "ACR finished the sync task with status ERROR."),
    "mismatch": (
        "verification mismatch",
        "The sync task succeeded but the destination tag does not hold the source digest.",
    ),
    "canceled": (
        "sync task cancelled",
        "The sync task was CANCELED (console or API); it is not retried automatically.",
    ),
    "stuck": (
        "sync task stuck",
        "The sync task reached no terminal state (SUCCESS/ERROR/CANCELED) before its deadline.",
    ),
    "submit_rejected": ("sync task refused", "CreateRepoSyncTask refused the request permanently."),
    "link_refused": (
        "custom link refused",
        "The destination names a custom replication link (link: in the rules) and ACR refused its manual "
        "sync rule or task, or that rule was edited outside acr-sync; nothing was submitted. The last error "
        "says what to do.",
    ),
    "invalid_destination": (
        "destination name invalid",
        "A rule's destination template gave a name outside the registry's grammar for this image; nothing "
        "was submitted. Fix the template (acr-sync rules explain IMAGE shows what it gives), then retry.",
    ),
    "invalid_name": (
        "destination name invalid",
        "The row names a destination outside the registry's grammar; nothing was submitted.",
    ),
    "verify_rejected": (
        "verification impossible",
        "The sync task succeeded but the destination could not be read to check its digest (permissions?).",
    ),
    # Drift found by the reconciler (notices in the ledger; ``acr-sync retry`` on a conflict overwrites it).
    "conflict": (
        "tag conflict",
        "The destination tag holds a digest acr-sync did not put there; on_conflict: skip left it alone.",
    ),
    "pruned": ("tag pruned", "The source tag is gone; the destination tag acr-sync created was deleted."),
    "unreachable": ("destination unreachable", "The reconciler could not list the destination."),
    "events_missed": (
        "push events missed",
        "The reconciler found images no push event had brought and replicated them.",
    ),
}
_GENERIC_KIND = ("replication failed", "The replication failed.")
# What to do about a reconciler notice, instead of retrying it.
_NOTICE_TAILS = {
    "events_missed": "Check the replicator's trigger and its event_refused logs: `acr-sync doctor`",
    "pruned": "Nothing to do: the rule says prune: true (see `acr-sync audit --rule NAME`).",
    "unreachable": "Check the destination instance and the function role's permissions: `acr-sync doctor`",
    "conflict": "Leave it, or overwrite it (line above); `acr-sync audit --json` lists every conflict.",
}


@dataclass(frozen=True, slots=True)
class GroupKey:
    """What makes failures "the same problem": one message each per window."""

    rule: str
    dest_instance: str
    dest_region: str
    dest_namespace: str
    dest_repo: str
    error_class: str
    channel: str = ""

    @property
    def destination(self) -> str:
        """``INSTANCE@REGION/NAMESPACE/REPO``."""
        return f"{self.dest_instance}@{self.dest_region}/{self.dest_namespace}/{self.dest_repo}"


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """Failures of one group key within one window, oldest first."""

    key: GroupKey
    window_start: float
    window_s: float
    entries: tuple[LedgerEntry, ...]

    @property
    def alert_key(self) -> str:
        """Stable id of this message: the same on every instance, so one conditional write dedupes it."""
        k = self.key
        parts = (k.rule, k.destination, k.error_class, k.channel, str(int(self.window_start)))
        return "|".join(parts)


def group_key(entry: LedgerEntry) -> GroupKey:
    """The group an entry's failure belongs to."""
    return GroupKey(
        rule=entry.rule,
        dest_instance=entry.dest_instance,
        dest_region=entry.dest_region,
        dest_namespace=entry.dest_namespace,
        dest_repo=entry.dest_repo,
        error_class=entry.error_class or "failed",
        channel=entry.alert_channel,
    )


def group_failures(
    entries: Iterable[LedgerEntry], *, window_s: float = DEFAULT_WINDOW_S
) -> list[FailureGroup]:
    """Group failed entries by key and tumbling window (by ``updated_at``), in order of first failure.

    Windows are aligned to the epoch (``floor(t / window_s) * window_s``) rather than to the first failure
    so that concurrent watchers agree on the boundaries without talking to each other.
    """
    if window_s <= 0:
        raise ValueError(f"window_s must be positive, got {window_s}")
    buckets: dict[tuple[GroupKey, float], list[LedgerEntry]] = {}
    for entry in sorted(entries, key=lambda e: (e.updated_at, e.claim_id)):
        start = (entry.updated_at // window_s) * window_s
        buckets.setdefault((group_key(entry), start), []).append(entry)
    return [
        FailureGroup(key=key, window_start=start, window_s=window_s, entries=tuple(rows))
        for (key, start), rows in buckets.items()
    ]


def retry_command(entry: LedgerEntry) -> str:
    """The exact CLI line that re-runs this replication."""
    return f"acr-sync retry {entry.source_ref} --rule {entry.rule}"


def render_failure(group: FailureGroup, now_iso: str) -> AlertMessage:
    """One markdown message for a failure group: every entry's facts and its retry command, size-bounded."""
    phrase, meaning = _KINDS.get(group.key.error_class, _GENERIC_KIND)
    count = len(group.entries)
    title = f"acr-sync: {phrase} ×{count} ({group.key.rule})"
    head = [
        f"### acr-sync: {phrase} ×{count}",
        f"- **rule**: {_code(group.key.rule)}",
        f"- **destination**: {_code(group.key.destination)}",
        f"- **error class**: {_code(group.key.error_class)}",
        f"- **window**: {_iso(group.window_start)} – {_iso(group.window_start + group.window_s)}",
        f"- **reported at**: {now_iso}",
        "",
        f"> {meaning}",
        "",
    ]
    blocks = (_failure_block(i, e, group.key.error_class) for i, e in enumerate(group.entries, 1))
    tail = _NOTICE_TAILS.get(
        group.key.error_class,
        f"Retry every failed replication of this rule: `acr-sync retry --failed --rule {group.key.rule}`",
    )
    return AlertMessage(title=title, markdown=_assemble(head, blocks, count, tail))


def render_resolved(entries: Sequence[LedgerEntry], now_iso: str = "") -> AlertMessage:
    """The "resolved" message: replications that failed (and were alerted) and have now succeeded."""
    count = len(entries)
    rules = sorted({e.rule for e in entries})
    shown_rules = ", ".join(rules[:3]) + (f" +{len(rules) - 3}" if len(rules) > 3 else "")
    title = f"acr-sync: resolved ×{count} ({shown_rules})"
    head = [f"### acr-sync: resolved ×{count}"]
    if now_iso:
        head.append(f"- **reported at**: {now_iso}")
    head += ["", "> These replications failed earlier and have now completed.", ""]
    blocks = (
        "\n".join(
            [
                f"{i}. {_code(e.source_ref)} → {_code(e.dest_ref)}",
                f"    - rule: {_code(e.rule)}; state: **{e.state.value}**",
                f"    - digest: {_code(e.digest or '—')}",
                f"    - task: {_code(e.task_id or '—')}; attempts: {e.attempts}",
            ]
        )
        for i, e in enumerate(entries, 1)
    )
    return AlertMessage(title=title, markdown=_assemble(head, blocks, count, ""))


def _failure_block(index: int, entry: LedgerEntry, error_class: str) -> str:
    lines = [
        f"{index}. **source** {_code(entry.source_ref)}",
        f"    - digest: {_code(entry.digest or '—')}",
        f"    - destination: {_code(entry.dest_ref)}",
        f"    - task: {_code(entry.task_id or '—')}; attempts: {entry.attempts}/{entry.max_attempts}",
        f"    - TaskIssue: {_clean(entry.task_issue) or '—'}",
    ]
    if entry.extra.get("referrer_of"):  # a tagless OCI referrer (domain.referrers), not the image itself
        kind = _clean(entry.extra.get("artifact_type", "")) or "artifact"
        lines.append(f"    - OCI referrer ({kind}) of image {_code(entry.extra['referrer_of'])}")
    lines += _kind_lines(entry, error_class)
    if entry.last_error and entry.last_error != entry.task_issue:
        lines.append(f"    - last error: {_clean(entry.last_error)}")
    if entry.extra.get("notice") and error_class != "conflict":
        return "\n".join(lines)  # a drift notice (pruned, unreachable, events missed): nothing to retry
    label = "overwrite it anyway" if error_class == "conflict" else "retry"
    lines.append(f"    - {label}: `{retry_command(entry)}`")
    return "\n".join(lines)


def _kind_lines(entry: LedgerEntry, error_class: str) -> list[str]:
    if error_class == "mismatch":
        found = entry.extra.get(FOUND_DIGEST_KEY, "") or "unknown"
        return [f"    - expected digest {_code(entry.digest or '—')}, found {_code(found)}"]
    if error_class == "stuck":
        deadline = entry.extra.get(DEADLINE_KEY, "")
        when = _iso(float(deadline)) if _is_number(deadline) else "its deadline"
        return [f"    - submitted {_iso(entry.created_at)}; no terminal state by {when}"]
    if error_class == "canceled":
        return [f"    - cancelled; last seen {_iso(entry.updated_at)}"]
    return []


def _assemble(head: list[str], blocks: Iterable[str], total: int, tail: str) -> str:
    """Head, as many blocks as fit the byte budget and entry cap, then "…and N more", then the tail.

    ``blocks`` is lazy so a group of thousands renders only the entries it shows.
    """
    text = "\n".join(head)
    shown = 0
    for block in blocks:
        more = total - shown - 1
        reserve = _bytes(_more_line(more)) + _bytes(tail) + 4 if more else _bytes(tail) + 2
        if shown >= MAX_ENTRIES_SHOWN or _bytes(text) + _bytes(block) + 2 + reserve > TEXT_BUDGET_BYTES:
            break
        text += "\n" + block
        shown += 1
    if shown < total:
        text += "\n\n" + _more_line(total - shown)
    if tail:
        text += "\n\n" + tail
    return text


def _more_line(n: int) -> str:
    return f"…and {n} more"


def _bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _clean(text: str) -> str:
    """One line, no markdown-breaking characters, bounded: TaskIssue is free text from ACR."""
    flat = " ".join(text.split()).replace("`", "'")
    return flat if len(flat) <= ISSUE_MAX_CHARS else flat[: ISSUE_MAX_CHARS - 1] + "…"


def _iso(epoch: float) -> str:
    if epoch <= 0:
        return "—"
    return _dt.datetime.fromtimestamp(epoch, tz=_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
