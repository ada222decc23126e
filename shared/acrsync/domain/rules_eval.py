"""Evaluating compiled rules against one pushed image: the hot path (one call per push event). Pure.

``evaluate`` builds no text; its twin ``explain`` (``rules_explain``) walks EVERY rule and says which clause
decided. Both use the clause functions here, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

from acrsync.domain.images import COPY_REGION, NAME_RE, TAG_RE, DestinationImage, SourceImage, SyncRequest
from acrsync.domain.patterns import Matcher, is_prerelease_tag
from acrsync.domain.rules_compile import CompiledDestination, CompiledRule, RuleIndex, Template, compile_rules

__all__ = [
    "CompiledDestination",
    "CompiledRule",
    "RuleIndex",
    "Template",
    "compile_rules",
    "evaluate",
    "first_match",
    "resolve",
]


def first_match(matchers: Sequence[Matcher], text: str) -> Matcher | None:
    """The first matcher that matches ``text``, or None."""
    for m in matchers:
        if m.matches(text):
            return m
    return None


def render(dest: CompiledDestination, image: SourceImage) -> DestinationImage:
    """A destination's templates filled in for ``image``, not yet checked (``resolve`` checks)."""
    values = {"namespace": image.namespace, "repo": image.repo, "tag": image.tag}
    # A copy destination: the registry stands where the instance would, with no region (``COPY_REGION``).
    instance, region = (dest.registry, COPY_REGION) if dest.registry else (dest.instance, dest.region)
    return DestinationImage(
        instance,
        region,
        dest.namespace.render(values),
        dest.repository.render(values),
        dest.tag.render(values),
    )


def name_refusal(dest: CompiledDestination, out: DestinationImage) -> str:
    """Why a rendered destination's names are outside the registry's grammar (naming the template), or ""."""
    for label, value, rx, template in (
        ("namespace", out.namespace, NAME_RE, dest.namespace),
        ("repository", out.repo, NAME_RE, dest.repository),
        ("tag", out.tag, TAG_RE, dest.tag),
    ):
        if not rx.fullmatch(value):
            shown = repr(value[:80]) + ("..." if len(value) > 80 else "")
            return f"{label} template {template.source!r} gives {shown}, which is not a valid ACR {label}"
    return ""


def resolve(dest: CompiledDestination, image: SourceImage) -> tuple[DestinationImage | None, str]:
    """Render a destination's templates for ``image``: the destination, or None and why it is refused."""
    out = render(dest, image)
    why = name_refusal(dest, out)
    if why:
        return None, why
    if dest.registry:  # a copy destination: another registry, never the source image itself
        return out, ""
    if out.same_place_as(image):
        return None, "destination is the source image itself (self-replication refused)"
    return out, ""


def _hits(matchers: tuple[Matcher, ...], text: str, memo: dict[Matcher, bool]) -> bool:
    """``any(m.matches(text))``, remembering each (shared) matcher's answer for this one text."""
    for m in matchers:
        hit = memo.get(m)
        if hit is None:
            hit = memo[m] = m.matches(text)
        if hit:
            return True
    return False


def repository_selects(rule: CompiledRule, repository: str, memo: dict[Matcher, bool] | None = None) -> bool:
    """In ``repositories`` and not in ``exclude_repositories``."""
    seen = {} if memo is None else memo
    return _hits(rule.repositories, repository, seen) and not _hits(
        rule.exclude_repositories, repository, seen
    )


def tag_selects(rule: CompiledRule, tag: str, memo: dict[Matcher, bool] | None = None) -> bool:
    """Exclude beats include; an empty include means every tag."""
    seen = {} if memo is None else memo
    return not _hits(rule.exclude, tag, seen) and (not rule.include or _hits(rule.include, tag, seen))


def request_for(
    rule: CompiledRule, dest: CompiledDestination, image: SourceImage, to: DestinationImage
) -> SyncRequest:
    return SyncRequest(
        rule=rule.name,
        source=image,
        destination=to,
        override=dest.override,
        priority=dest.priority,
        target_account=dest.account,
        alert_channel=rule.alert,
        copy=copy_options(dest),
    )


def copy_options(dest: CompiledDestination) -> tuple[tuple[str, str], ...]:
    """What a ledger row needs to run a copy job (``extra`` fields); () for ACR sync destinations."""
    if not dest.registry:
        options = [("companions", "1")] if dest.companions else []
        if dest.link:
            options.append(("link", dest.link))
        return tuple(options)
    return (
        ("kind", "copy"),
        ("registry", dest.registry),
        ("credentials_env", dest.credentials_env),
        ("companions", "1" if dest.companions else ""),
    )


def evaluate(
    index: RuleIndex, image: SourceImage, refused: list[tuple[SyncRequest, str]] | None = None
) -> list[SyncRequest]:
    """Requests asked for by the rules that match, in rule order, deduplicated by destination. Pure.

    Disabled rules are skipped; exclude beats include; an empty include means every tag; a destination
    that resolves to the source itself is dropped; the first rule asking for a destination image wins.
    A destination whose rendered names are invalid is never a request: it goes to ``refused`` (with why,
    for the caller to log and record) when a list is given, and is dropped otherwise.
    """
    seen: dict[DestinationImage, SyncRequest] = {}
    # Candidates are enabled rules of this instance (the index holds no others); per-event memos of the
    # shared selectors make each rule cost a dict lookup or two once its combination has been decided.
    tag_ok: dict[int, bool] = {}
    repo_ok: dict[int, bool] = {}
    tag_memo: dict[Matcher, bool] = {}
    repo_memo: dict[Matcher, bool] = {}
    repository, tag, rules = image.repository, image.tag, index.rules
    for pos in index.candidates(image.instance_id, image.namespace, repository):
        rule = rules[pos]
        ok = tag_ok.get(id(rule.tag_selector))
        if ok is None:
            ok = tag_ok[id(rule.tag_selector)] = tag_selects(rule, tag, tag_memo)
        if not ok:
            continue
        ok = repo_ok.get(id(rule.repo_selector))
        if ok is None:
            ok = repo_ok[id(rule.repo_selector)] = repository_selects(rule, repository, repo_memo)
        if not ok:
            continue
        for dest in rule.destinations:
            to = render(dest, image)  # resolve(), in steps: a bad name is reported, not just dropped
            why = name_refusal(dest, to)
            if why:
                if refused is not None:
                    refused.append((request_for(rule, dest, image, to), why))
            elif to not in seen and not to.same_place_as(image):
                seen[to] = request_for(rule, dest, image, to)
    return list(seen.values())


def prerelease_note(rule: CompiledRule, tag: str) -> str:
    """Why a semver include missed a prerelease tag, when the prerelease policy is what decided."""
    if rule.include_prerelease or not is_prerelease_tag(tag):
        return ""
    if any(m.kind == "semver" for m in rule.include):
        return " (prerelease tags are excluded: include_prerelease is false)"
    return ""
