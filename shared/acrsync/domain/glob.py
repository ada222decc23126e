"""Globs translated to RE2: linear-time matching on every Python, so no glob can hang a function.

Semantics (product.md "Pattern kinds"): ``*`` any run of characters except ``/``; ``?`` one character
except ``/``; ``[abc]``, ``[a-z]``, ``[!a]``/``[^a]`` one character of (or not of) a set, never ``/``;
``{a,b}`` alternatives (nested, expanded first, like a shell: a brace group inside brackets is still
expanded, as bracex/wcmatch do); ``**`` as a whole segment any number of segments, zero included
(``a/**/b`` matches ``a/b``); ``**`` inside a segment (``api-**``) any run of characters including ``/``;
``\\x`` a literal ``x``. Case-sensitive; always the whole string.

Translation is linear in the pattern plus its expansion: one forward pass pairs escapes and braces (a
stack), one builds the alternatives, and each segment is scanned once with every class's closing ``]``
precomputed, so nothing is ever rescanned (a glob of 20,000 ``[`` or ``{`` costs what 20,000 letters do).
Braces may not multiply a pattern beyond ``MAX_ALTERNATIVES`` alternatives or grow it by more than
``MAX_BRACE_GROWTH`` characters; both are refused before anything is expanded.

Why not wcmatch: its translations use look-arounds, which RE2 refuses, so they run on Python's
backtracking ``re``; on Python 3.10 (FC's runtime, wcmatch 11) ``*a*a*a*a*a*a*b`` against 128 ``a``
never finishes. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_ALTERNATIVES = 256
MAX_BRACE_GROWTH = 4_096


class GlobError(ValueError):
    """The glob cannot be translated (braces expand to too many alternatives or characters)."""


@dataclass(slots=True)
class _Seq:
    """Parts in order; ``count`` alternatives of ``size`` characters in total once expanded."""

    parts: list[str | _Group] = field(default_factory=list)
    count: int = 1
    size: int = 0

    def add_text(self, text: str) -> None:
        if text:
            self.parts.append(text)
            self.size += len(text) * self.count

    def add_group(self, group: _Group) -> None:
        self.parts.append(group)
        self.size = self.size * group.count + group.size * self.count
        self.count *= group.count


@dataclass(slots=True)
class _Group:
    options: list[_Seq] = field(default_factory=list)
    count: int = 0
    size: int = 0


def _brace_roles(pattern: str) -> dict[int, str]:
    """Index -> ``{``/``,``/``}`` for the delimiters of real groups (closed, with a comma at their level).

    One pass with a stack; escaped characters never count. A group without a comma, or never closed, is
    literal text (``x{a}``, ``x{a,b``), and so are its commas.
    """
    stack: list[int] = []
    commas: dict[int, list[int]] = {}
    roles: dict[int, str] = {}
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            stack.append(i)
        elif ch == "," and stack:
            commas.setdefault(stack[-1], []).append(i)
        elif ch == "}" and stack:
            opened = stack.pop()
            seps = commas.pop(opened, None)
            if seps:
                roles[opened], roles[i] = "{", "}"
                roles.update(dict.fromkeys(seps, ","))
        i += 1
    return roles


def _parse_braces(pattern: str, limit: int) -> _Seq:
    """The alternatives' tree; ``GlobError`` as soon as any part of it is too large (before expanding)."""
    roles = _brace_roles(pattern)
    max_size = len(pattern) + MAX_BRACE_GROWTH
    root = _Seq()
    stack: list[tuple[_Group, _Seq]] = []  # open groups, each with the sequence it belongs to
    cur, start = root, 0
    for i in sorted(roles):
        cur.add_text(pattern[start:i])
        start = i + 1
        role = roles[i]
        if role == "{":
            group = _Group()
            stack.append((group, cur))
            cur = _Seq()
            group.options.append(cur)
            continue
        group, parent = stack[-1]
        group.count += cur.count
        group.size += cur.size
        if role == ",":
            cur = _Seq()
            group.options.append(cur)
        else:
            stack.pop()
            parent.add_group(group)
            cur = parent
        _check(max(cur.count, group.count), max(cur.size, group.size), limit, max_size)
    cur.add_text(pattern[start:])
    _check(cur.count, cur.size, limit, max_size)
    return root


def _check(count: int, size: int, limit: int, max_size: int) -> None:
    # A part never weighs more than the whole, so checking as the tree grows refuses before expanding.
    if count > limit:
        raise GlobError(f"braces expand to more than {limit} alternatives")
    if size > max_size:
        raise GlobError(f"braces grow the pattern by more than {MAX_BRACE_GROWTH:,} characters")


def _render(seq: _Seq) -> list[str]:
    # Recursion depth is the nesting of real groups, at most MAX_ALTERNATIVES (each has two options).
    acc = [""]
    for part in seq.parts:
        if isinstance(part, str):
            acc = [a + part for a in acc]
        else:
            options = [x for option in part.options for x in _render(option)]
            acc = [a + b for a in acc for b in options]
    return acc


def expand_braces(pattern: str, limit: int = MAX_ALTERNATIVES) -> list[str]:
    """``a{b,c{d,e}}`` -> ``["ab", "acd", "ace"]``; a brace group without a comma stays literal."""
    return _render(_parse_braces(pattern, limit))


def _class_ends(seg: str) -> list[int]:
    """``ends[k]``: index of the first unescaped ``]`` at or after ``k`` (or -1), for every ``k``.

    Escapes pair from the start of the segment; a class scan starts right after ``[``, ``!``, ``^`` or a
    leading ``]``, never inside a pair, so this one table answers every class's scan.
    """
    n = len(seg)
    escaped = [False] * (n + 1)
    i = 0
    while i < n:
        if seg[i] == "\\" and i + 1 < n:
            escaped[i + 1] = True
            i += 2
        else:
            i += 1
    ends = [-1] * (n + 1)
    for k in range(n - 1, -1, -1):
        ends[k] = k if seg[k] == "]" and not escaped[k] else ends[k + 1]
    return ends


def _class_end(seg: str, start: int, ends: list[int]) -> int:
    """Index of the ``]`` closing the class at ``start``, or ``start`` if there is none (a literal ``[``)."""
    i = start + 1
    if i < len(seg) and seg[i] in "!^":
        i += 1
    if i < len(seg) and seg[i] == "]":
        i += 1
    end = ends[min(i, len(seg))]
    return end if end >= 0 else start


def _class(body: str) -> str:
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    chars = body.replace("\\", "\\\\").replace("/", "").replace("[", "\\[").replace("]", "\\]")
    chars = chars.replace("^", "\\^")
    return f"[^/{chars}]" if negate else f"[{chars}]" if chars else "[^\\s\\S]"


_SPECIAL = re.compile(r"[\\*?\[]")


def _segment(seg: str) -> str:
    ends = _class_ends(seg) if "[" in seg else []
    out: list[str] = []
    i = 0
    while i < len(seg):
        literal_end = m.start() if (m := _SPECIAL.search(seg, i)) else len(seg)
        if literal_end > i:  # a run of plain characters, escaped at once
            out.append(re.escape(seg[i:literal_end]))
            i = literal_end
            continue
        ch = seg[i]
        if ch == "\\" and i + 1 < len(seg):
            out.append(re.escape(seg[i + 1]))
            i += 2
        elif seg.startswith("**", i):
            out.append(".*")  # inside a segment, ** crosses "/" (product.md)
            i += 2
        elif ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[" and (end := _class_end(seg, i, ends)) > i:
            out.append(_class(seg[i + 1 : end]))
            i = end + 1
        else:
            out.append(re.escape(ch))
            i += 1
    return "".join(out)


def _one(pattern: str) -> str:
    segments: list[str] = []
    for seg in pattern.split("/"):
        if not (seg == "**" and segments and segments[-1] == "**"):  # **/** is **
            segments.append(seg)
    n = len(segments)
    out: list[str] = []
    for i, seg in enumerate(segments):
        if seg == "**":
            if n == 1:
                out.append(".*")
            elif i == 0:
                out.append("(?:.*/)?")
            elif i == n - 1:
                out.append("/.*")  # a trailing /** needs the slash (as wcmatch and shells read it)
            else:
                out.append("/(?:.*/)?")
            continue
        if i > 0 and segments[i - 1] != "**":
            out.append("/")
        out.append(_segment(seg))
    return "".join(out)


def translate(pattern: str) -> str:
    """The RE2 expression (for a whole-string match) equivalent to ``pattern``; linear in its size."""
    return "|".join(f"(?:{_one(p)})" for p in expand_braces(pattern))
