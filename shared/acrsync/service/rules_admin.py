"""``acr-sync rules ...`` use cases: validate a file, plan and apply it (versioned), a cached compiled index.

The CLI (written elsewhere) parses arguments and prints; everything that decides lives here or in the domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from acrsync.domain.images import COPY_REGION
from acrsync.domain.rules import RulesDiff, RuleVerdict, diff
from acrsync.domain.rules_schema import RulesDocument, validate_document
from acrsync.errors import RuleConfigError
from acrsync.logging import get_logger
from acrsync.ports import RuleStore

log = get_logger(__name__)


def load_document(text: str | bytes, *, source: str = "<rules>") -> RulesDocument:
    """Parse a rules file and validate it: a ``RulesDocument`` or ``RuleConfigError``, never anything else.

    YAML problems (syntax, duplicate keys, alias bombs, nesting, size, encoding) name the line and column.
    """
    from acrsync.service.rules_yaml import parse  # lazily: the functions never parse YAML

    data = parse(text, source=source)
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise RuleConfigError(
            [f"{source}: the top level must be a mapping (version, channels, rules), got {got}"]
        )
    return validate_document(data)


def validate_file(path: str | Path) -> RulesDocument:
    """``rules validate FILE``: the validated document, or ``RuleConfigError`` listing every problem."""
    from acrsync.service.rules_yaml import MAX_FILE_BYTES

    p = Path(path)
    try:
        with p.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)  # bounded: a FIFO or /dev/zero cannot exhaust memory
    except OSError as exc:
        raise RuleConfigError([f"{p}: cannot read the rules file: {exc.strerror}"]) from None
    try:
        return load_document(raw, source=str(p))
    except RuleConfigError as exc:
        log.info("rules_file_refused", file=str(p), problems=len(exc.errors), first=exc.errors[0])
        raise


def plan_apply(store: RuleStore, doc: RulesDocument, prune: bool) -> RulesDiff:
    """What ``apply`` would change, against what the store holds now."""
    return diff(store.read().rules, doc.rules, prune)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """The diff, whether anything was written, and the store version afterwards."""

    diff: RulesDiff
    written: bool
    version: int
    channels_changed: bool = False


def apply(store: RuleStore, doc: RulesDocument, *, prune: bool, dry_run: bool, now: float) -> ApplyResult:
    """``rules apply``: validate (again, in case the document was built by hand), diff, write if needed.

    One versioned write: if someone else applied meanwhile the store raises ``ConflictError`` and nothing is
    written; the caller re-plans. Nothing is written when the document is invalid or nothing changed.
    """
    doc = validate_document({"version": doc.version, "channels": doc.channels, "rules": list(doc.rules)})
    stored = store.read()
    plan = diff(stored.rules, doc.rules, prune)
    channels_changed = dict(stored.channels) != dict(doc.channels)
    if dry_run or not (plan.has_changes or channels_changed):
        return ApplyResult(plan, written=False, version=stored.version, channels_changed=channels_changed)
    version = store.write(
        channels=doc.channels,
        upsert=doc.rules,
        delete=plan.removed,
        expected_version=stored.version,
        now=now,
    )
    log.info(
        "rules_applied",
        version=version,
        added=len(plan.added),
        changed=len(plan.changed),
        removed=len(plan.removed),
        kept=len(plan.kept),
    )
    return ApplyResult(plan, written=True, version=version, channels_changed=channels_changed)


def format_diff(plan: RulesDiff) -> str:
    """Plain text for ``rules apply``: ``+ added``, ``~ changed``, ``- removed``, ``= kept``, a summary."""
    lines = [f"+ {n}" for n in plan.added]
    lines += [f"~ {n}" for n in plan.changed]
    lines += [f"- {n}" for n in plan.removed]
    lines += [f"= {n} (kept: not in the file; use --prune to remove)" for n in plan.kept]
    if plan.reordered:
        lines.append("order changed (rule order decides which rule wins a shared destination)")
    lines.append(
        f"{len(plan.added)} to add, {len(plan.changed)} to change, {len(plan.removed)} to remove, "
        f"{len(plan.unchanged)} unchanged"
    )
    return "\n".join(lines)


def format_explain(verdicts: list[RuleVerdict]) -> str:
    """Plain text for ``rules explain``: one block per rule, then how many tasks would be created."""
    requested = [d for v in verdicts for d in v.destinations if d.status == "requested"]
    copies = sum(
        1 for d in requested if d.request is not None and d.request.destination.region == COPY_REGION
    )
    body = "\n".join(v.as_text() for v in verdicts) if verdicts else "(no rules stored)"
    tail = f"{len(requested) - copies} sync task(s) would be created"
    return body + "\n" + tail + (f", and {copies} copy job(s)" if copies else "")
