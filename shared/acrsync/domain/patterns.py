"""Tag and repository patterns: ``glob:`` (default), ``regex:`` (RE2, whole string), ``semver:`` (npm ranges).

Each pattern compiles once into a ``Matcher`` with ``matches(text)`` and ``describe()`` (its source text, for
explain). Compilation refuses bad patterns with ``PatternError`` whose message says what is wrong. Pure: the
libraries used here (google-re2, node-semver) do no I/O.

Compiling is bounded too, since rules compile at a function's cold start: a pattern is at most
``MAX_PATTERN_CHARS`` long; globs translate in linear time (``domain.glob``); RE2 gets ``RE2_MAX_MEM`` per
expression; a semver range must first match a linear (RE2) grammar with its whitespace collapsed, because
node-semver's own backtracking expressions are exponential in runs of spaces (``1.2.3`` + 128 spaces + ``<``
takes seconds). ``Matcher.size`` is what a compiled pattern weighs, for a document's budget.
"""

from __future__ import annotations

import abc
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

import nodesemver
import re2

from acrsync.domain.glob import GlobError
from acrsync.domain.glob import translate as translate_glob
from acrsync.domain.quote import clip

MAX_PATTERN_CHARS = 1_024
RE2_MAX_MEM = 1 << 20  # bytes per expression; RE2's default (8 MiB) lets one pattern cost 0.3 s to compile


class PatternError(ValueError):
    """A pattern that cannot be compiled; the message is meant for the person who wrote the rules file."""


class Matcher(abc.ABC):
    """A compiled pattern."""

    kind: str = ""

    def __init__(self, body: str) -> None:
        self.body = body
        self.size = len(body)  # characters compiled (a glob's after its braces are expanded)

    @abc.abstractmethod
    def matches(self, text: str) -> bool:
        """True when ``text`` (a tag, or ``NAMESPACE/REPO``) matches the whole pattern."""

    def describe(self) -> str:
        """The pattern as written in the rules file, with its kind prefix."""
        return f"{self.kind}:{self.body}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()!r}>"


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is reported to the author, not dumped on stderr by absl
_RE2_OPTIONS.max_mem = RE2_MAX_MEM


class GlobMatcher(Matcher):
    """``glob:`` — ``*`` ``?`` ``[..]`` ``{a,b}``; ``*`` stops at ``/``, ``**`` crosses it; case-sensitive.

    Translated to RE2 (``domain.glob``), so matching is linear in the text whatever the pattern.
    """

    kind = "glob"

    def __init__(self, body: str) -> None:
        super().__init__(body)
        if not body:
            raise PatternError("glob: pattern is empty")
        # Literal globs (no wildcard at all) compare as plain strings: the common case, and the cheapest.
        self.literal: str | None = None if any(c in body for c in "*?[]{}\\") else body
        if self.literal is not None:
            return
        try:
            translated = translate_glob(body)
        except GlobError as exc:
            raise PatternError(f"glob:{clip(body)} is not a valid glob: {exc}") from None
        self.size = len(translated)
        try:
            self._rx = re2.compile(translated, _RE2_OPTIONS)
        except Exception as exc:  # re2's own error type: the translation produced something RE2 refused
            raise PatternError(f"glob:{clip(body)} is not a valid glob: {_re2_detail(exc)}") from exc

    def matches(self, text: str) -> bool:
        if self.literal is not None:
            return text == self.literal
        return self._rx.fullmatch(text) is not None


_LOOKAROUND = re.compile(r"\(\?<?[=!]")
_BACKREF = re.compile(r"\\[1-9]|\\g<|\(\?P=")


class Re2Matcher(Matcher):
    """``regex:`` — RE2 syntax, matched against the whole string (``regex:v1`` never matches ``v10``)."""

    kind = "regex"

    def __init__(self, body: str) -> None:
        super().__init__(body)
        if not body:
            raise PatternError("regex: pattern is empty")
        if _LOOKAROUND.search(body):
            raise PatternError(
                f"regex:{clip(body)} uses a look-around ((?=, (?!, (?<=, (?<!), which RE2 does not support "
                "(linear-time matching); express it with include/exclude lists instead"
            )
        if _BACKREF.search(body):
            raise PatternError(
                f"regex:{clip(body)} uses a back-reference, which RE2 does not support (linear-time matching)"
            )
        try:
            # Compiled alone first, so an error message shows what was written.
            re2.compile(body, _RE2_OPTIONS)
            self._rx = re2.compile(f"^(?:{body})$", _RE2_OPTIONS)
        except Exception as exc:  # re2 raises its own Error type; any failure means "invalid"
            detail = _re2_detail(exc)
            raise PatternError(f"regex:{clip(body)} is not a valid RE2 regular expression: {detail}") from exc

    def matches(self, text: str) -> bool:
        return self._rx.fullmatch(text) is not None


def _re2_detail(exc: Exception) -> str:
    detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
    if "too large" in detail:
        return f"{detail} (it needs more than {RE2_MAX_MEM >> 20} MiB compiled; simplify or split it)"
    return clip(detail, 120)


# A strict SemVer 2.0.0 version with an optional leading ``v``; anything else is not semver and never matches
# (node-semver would raise on it, or accept ``1.2.3.4``/`` 1.2.3`` that a tag can never mean).
_SEMVER_TAG = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?\Z"
)
# npm's range grammar (docs.npmjs.com/cli/v6/using-npm/semver#range-grammar), a little looser in the
# identifiers (node-semver decides those) and with single spaces only: checked in linear time (RE2) before
# node-semver sees the text.
_XR = r"(?:[xX*]|0|[1-9][0-9]*)"
_IDS = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_PARTIAL = rf"v?{_XR}(?:\.{_XR}(?:\.{_XR}(?:-{_IDS})?(?:\+{_IDS})?)?)?"
_SIMPLE = rf"(?:(?:<=|>=|<|>|=|~>|~|\^) ?)?{_PARTIAL}"
_RANGE = rf"(?:{_PARTIAL} - {_PARTIAL}|{_SIMPLE}(?: {_SIMPLE})*)"
_RANGE_SET = re2.compile(rf"(?:{_RANGE})?(?: ?\|\| ?(?:{_RANGE})?)*", _RE2_OPTIONS)
_LITERAL_COMPARATOR = re.compile(r"(<=|>=|<|>|=)\s*(v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)")


def is_semver_tag(tag: str) -> bool:
    """True for a SemVer 2.0.0 version, with or without a leading ``v``."""
    return _SEMVER_TAG.match(tag) is not None


def is_prerelease_tag(tag: str) -> bool:
    """True for a SemVer version with a prerelease part (``1.2.3-rc.1``)."""
    m = _SEMVER_TAG.match(tag)
    return m is not None and m.group(4) is not None


class SemverMatcher(Matcher):
    """``semver:`` — an npm range (``^1.2``, ``~1.2.3``, ``>=1 <2``, ``1.x``, ``1.2 - 1.4``, ``||``).

    A leading ``v`` on the tag is tolerated; tags that are not SemVer never match; prereleases only match
    when ``include_prerelease`` is true.
    """

    kind = "semver"

    def __init__(self, body: str, *, include_prerelease: bool = False) -> None:
        super().__init__(body)
        self.include_prerelease = include_prerelease
        normal = " ".join(body.split())
        if _RANGE_SET.fullmatch(normal) is None:
            raise PatternError(
                f"semver:{clip(body)} is not an npm semver range "
                "(e.g. ^1.2, ~1.2.3, >=1.0.0 <2.0.0, 1.x, 1.2 - 1.4, ^1 || ^3)"
            )
        try:
            self._range = nodesemver.make_range(normal, False)
        except Exception as exc:  # node-semver raises ValueError or its own types
            detail = clip(str(exc))
            raise PatternError(f"semver:{clip(body)} is not an npm semver range: {detail}") from exc
        if include_prerelease:
            self._range = _prerelease_bounds(self._range, normal)

    def matches(self, text: str) -> bool:
        if _SEMVER_TAG.match(text) is None:
            return False
        version = text[1:] if text.startswith("v") else text
        # Workaround (node-semver 0.9.1): a SemVer built with include_prerelease=True compares
        # ``1.0.0-rc.1`` as EQUAL to ``1.0.0`` (compare_pre returns 0), so ``>=1.0.0`` would admit it.
        # Build the version without the flag (correct ordering) and pass the flag only to the range test.
        parsed = _parse_version(version)
        return bool(self._range.test(parsed, include_prerelease=self.include_prerelease))


@functools.lru_cache(maxsize=4096)
def _parse_version(version: str) -> Any:
    """Parse once per distinct tag: one event's tag is tested against many semver rules."""
    return nodesemver.make_semver(version, False)


def _prerelease_bounds(rng: Any, body: str) -> Any:
    """Give desugared bounds npm's ``-0`` under includePrerelease: ``^1.2`` is ``>=1.2.0-0 <2.0.0-0``.

    node-semver 0.9.1 desugars ``^ ~ x -`` without it, so ``^1.2`` would admit ``2.0.0-rc.1`` (npm does not)
    and refuse ``1.2.0-rc.1`` (npm admits it). Comparators the author typed in full (``<2.0.0``) stay exact.
    """
    typed = {op + ver.lstrip("v") for op, ver in _LITERAL_COMPARATOR.findall(body)}
    new_sets = []
    for comparators in rng.set:
        new_sets.append([_lower_bound(comp, typed) for comp in comparators])
    rng.set = new_sets
    return rng


def _lower_bound(comp: Any, typed: set[str]) -> Any:
    sv = comp.semver
    if sv is nodesemver.ANY or comp.operator not in ("<", ">=") or sv.prerelease or comp.value in typed:
        return comp
    return nodesemver.make_comparator(f"{comp.operator}{sv.major}.{sv.minor}.{sv.patch}-0", False)


def _semver(body: str, include_prerelease: bool) -> Matcher:
    return SemverMatcher(body, include_prerelease=include_prerelease)


MATCHERS: Mapping[str, Callable[[str, bool], Matcher]] = {
    "glob": lambda body, _pre: GlobMatcher(body),
    "regex": lambda body, _pre: Re2Matcher(body),
    "semver": _semver,
}


def split_pattern(text: str) -> tuple[str, str]:
    """``"regex:v1"`` -> ``("regex", "v1")``; no known prefix means ``glob``."""
    kind, sep, body = text.partition(":")
    if sep and kind in MATCHERS:
        return kind, body
    return "glob", text


def compile_pattern(text: str, *, include_prerelease: bool = False) -> Matcher:
    """Compile one pattern; raise ``PatternError`` with a message naming the pattern and the problem."""
    if not isinstance(text, str):
        raise PatternError(f"must be a string pattern, got {type(text).__name__}")
    if len(text) > MAX_PATTERN_CHARS:
        raise PatternError(
            f"{clip(text, 30)} is too long: {len(text):,} characters, at most {MAX_PATTERN_CHARS:,} "
            "(split it into several patterns: any of a list may match)"
        )
    kind, body = split_pattern(text)
    return MATCHERS[kind](body, include_prerelease)
