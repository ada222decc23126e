"""Globs translated to RE2: linear-time matching on every Python, so no glob can hang a function.

Semantics (product.md "Pattern kinds"): ``*`` any run of characters except ``/``; ``?`` one character
except ``/``; ``[abc]``, ``[a-z]``, ``[!a]``/``[^a]`` one character of (or not of) a set, never ``/``;
``{a,b}`` alternatives (nested, expanded first, like a shell); ``**`` as a whole segment any number of
segments, zero included (``a/**/b`` matches ``a/b``); ``**`` inside a segment (``api-**``) any run of
characters including ``/``; ``\\x`` a literal ``x``. Case-sensitive; always the whole string.

Why not wcmatch: its translations use look-arounds, which RE2 refuses, so they run on Python's
backtracking ``re``; on Python 3.10 (FC's runtime, wcmatch 11) ``*a*a*a*a*a*a*b`` against 128 ``a``
never finishes. Pure: no I/O.
"""

from __future__ import annotations

import re

MAX_ALTERNATIVES = 256


class GlobError(ValueError):
    """The glob cannot be translated (an unbalanced brace, too many alternatives)."""


def expand_braces(pattern: str, limit: int = MAX_ALTERNATIVES) -> list[str]:
    """``a{b,c{d,e}}`` -> ``["ab", "acd", "ace"]``; a brace group without a comma stays literal."""
    start = _first_group(pattern)
    if start is None:
        return [pattern]
    end, options = start
    open_at = _open_index(pattern, end)
    head, tail = pattern[:open_at], pattern[end + 1 :]
    out: list[str] = []
    for option in options:
        for expanded in expand_braces(head + option + tail, limit):
            out.append(expanded)
            if len(out) > limit:
                raise GlobError(f"braces expand to more than {limit} alternatives")
    return out


def _open_index(pattern: str, close: int) -> int:
    depth = 0
    for i in range(close, -1, -1):
        ch = pattern[i]
        if ch == "}" and not _escaped(pattern, i):
            depth += 1
        elif ch == "{" and not _escaped(pattern, i):
            depth -= 1
            if depth == 0:
                return i
    raise GlobError("unbalanced braces")


def _escaped(pattern: str, i: int) -> bool:
    backslashes = 0
    while i - 1 - backslashes >= 0 and pattern[i - 1 - backslashes] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _first_group(pattern: str) -> tuple[int, list[str]] | None:
    """The first top-level ``{...}`` with a comma: (index of its ``}``, its options)."""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i = _class_end(pattern, i) + 1
            continue
        if ch == "{":
            parsed = _group_at(pattern, i)
            if parsed is not None:
                return parsed
        i += 1
    return None


def _group_at(pattern: str, start: int) -> tuple[int, list[str]] | None:
    depth, i, cut = 0, start, start + 1
    options: list[str] = []
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                options.append(pattern[cut:i])
                return (i, options) if len(options) > 1 else None
        elif ch == "," and depth == 1:
            options.append(pattern[cut:i])
            cut = i + 1
        i += 1
    return None  # unclosed: the brace is a literal character


def _class_end(pattern: str, start: int) -> int:
    """Index of the ``]`` closing the class at ``start``, or ``start`` if there is none (a literal ``[``)."""
    i = start + 1
    if i < len(pattern) and pattern[i] in "!^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "]":
            return i
        i += 1
    return start


def _class(body: str) -> str:
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    chars = body.replace("\\", "\\\\").replace("/", "").replace("[", "\\[").replace("]", "\\]")
    chars = chars.replace("^", "\\^")
    return f"[^/{chars}]" if negate else f"[{chars}]" if chars else "[^\\s\\S]"


def _segment(seg: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(seg):
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
        elif ch == "[" and (end := _class_end(seg, i)) > i:
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
    out = ""
    for i, seg in enumerate(segments):
        if seg == "**":
            if n == 1:
                out = ".*"
            elif i == 0:
                out += "(?:.*/)?"
            elif i == n - 1:
                out += "/.*"  # a trailing /** needs the slash (as wcmatch and shells read it)
            else:
                out += "/(?:.*/)?"
            continue
        if i > 0 and segments[i - 1] != "**":
            out += "/"
        out += _segment(seg)
    return out


def translate(pattern: str) -> str:
    """The RE2 expression (for a whole-string match) equivalent to ``pattern``."""
    return "|".join(f"(?:{_one(p)})" for p in expand_braces(pattern))
