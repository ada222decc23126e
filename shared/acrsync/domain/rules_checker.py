"""The checker a rules document is validated with: it collects ``path: message`` errors (at most
``MAX_ERRORS`` listed), and the small helpers that word them (what a value is, a bounded key, a guess at a
misspelt key). Used by ``rules_schema`` (document, rules, channels) and ``rules_destinations``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from acrsync.domain.patterns import split_pattern
from acrsync.domain.quote import clip, show
from acrsync.domain.rules_limits import MAX_ERRORS, PatternBudget


class Checker:
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
            self.err(path, f"must be a mapping, got {kind_of(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.err(f"{path}.{path_key(key)}" if path else path_key(key), unknown_key(key, allowed))
        return value

    def string(self, value: object, path: str, rx: re.Pattern[str] | None = None, what: str = "") -> str:
        if not isinstance(value, str) or not value:
            self.err(path, f"must be a non-empty string, got {kind_of(value)}")
            return ""
        if rx is not None and not rx.match(value):
            self.err(path, f"{show(value)} is not {what}")
        return value

    def boolean(self, value: object, path: str, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.err(path, f"must be true or false, got {kind_of(value)}")
            return default
        return value

    def str_list(self, value: object, path: str) -> list[str]:
        if not isinstance(value, list):
            self.err(path, f"must be a list of strings, got {kind_of(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str) and item:
                out.append(item)
            else:
                self.err(f"{path}[{i}]", f"must be a non-empty string, got {kind_of(item)}")
        return out

    def patterns(
        self, value: object, path: str, *, tags: bool, include_prerelease: bool = False
    ) -> list[str]:
        out = self.str_list(value, path)
        for i, text in enumerate(out):
            problem = "" if tags else repository_pattern_problem(text)
            problem = problem or self.budget.problem(text, include_prerelease)
            if problem:
                self.err(f"{path}[{i}]", problem)
        return out


def repository_pattern_problem(text: str) -> str:
    """Why a repository pattern can never select anything (``""`` if it can)."""
    kind, body = split_pattern(text)
    if kind == "semver":
        return f"{show(text)}: semver: patterns apply to tags, not repositories"
    if kind == "glob" and "/" not in body and "**" not in body:
        # '*' never crosses '/', so a glob without one can never match NAMESPACE/REPO.
        short = clip(body, 40)
        return f"{show(text)} never matches NAMESPACE/REPO (did you mean '*/{short}' or '{short}/*'?)"
    return ""


def kind_of(value: object) -> str:
    """What a value is, for a message: ``a boolean (true)``, ``int 7``, a bounded quote otherwise."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    shown = show(value)
    if isinstance(value, (int, float, str)) and not shown.startswith("an integer of"):
        return f"{type(value).__name__} {shown}"
    return shown


def digits(value: object) -> object:
    """An int as its digits (YAML reads unquoted ids and phone numbers as ints); anything else unchanged.

    A huge int stays an int (and is refused): ``str()`` of one is slow, or raises past 4,300 digits.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() <= 128:
        return str(value)
    return value


def path_key(key: object) -> str:
    """A mapping key as it appears in a path: bounded, whatever YAML made of it."""
    return clip(key, 40) if isinstance(key, str) else show(key, 40)


def unknown_key(raw: object, allowed: tuple[str, ...]) -> str:
    """The message for a key not in ``allowed``: the closest allowed key, or the list of them."""
    key = raw if isinstance(raw, str) and len(raw) <= 64 else ""  # difflib is quadratic in the key
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.5) if key else []
    aliases = {"repos": "repositories", "repository": "repositories", "exclude_repos": "exclude_repositories"}
    guess = close[0] if close else aliases.get(key)
    if guess is None and key and key.rstrip("s") in allowed:
        guess = key.rstrip("s")
    return (
        f"unknown key (did you mean {guess!r}?)" if guess else f"unknown key (allowed: {', '.join(allowed)})"
    )
