"""What one rules document may cost: its patterns are compiled at every function's cold start.

A pattern is bounded on its own (``patterns.MAX_PATTERN_CHARS``, ``glob.MAX_BRACE_GROWTH``, RE2's memory);
these bound the document: how many different patterns, and how many characters they compile to in all
(a glob counts after its braces are expanded and translated). Validation compiles each distinct pattern
once, so a pattern repeated (or repeated through a YAML alias) costs nothing more. Pure.
"""

from __future__ import annotations

from acrsync.domain.patterns import PatternError, compile_pattern, split_pattern

MAX_DISTINCT_PATTERNS = 20_000
MAX_PATTERN_WEIGHT = 500_000  # compiled characters, all distinct patterns together (RE2: ~50 bytes each)
MAX_ERRORS = 100  # listed; the rest are counted, so a broken megabyte is a page, not a scroll


class PatternBudget:
    """Compiles each distinct pattern once; refuses the one that takes the document over a limit."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, bool], str] = {}
        self.weight = 0
        self.exceeded = False

    @property
    def distinct(self) -> int:
        """How many different patterns were compiled."""
        return len(self._seen)

    def problem(self, text: str, include_prerelease: bool) -> str:
        """``""`` when ``text`` compiles within the budget, else what is wrong with it."""
        key = (text, include_prerelease and split_pattern(text)[0] == "semver")
        if key in self._seen:
            return self._seen[key]
        if self.exceeded:
            return ""  # the document is refused already; one message about the budget is enough
        problem = self._compile(text, key[1])
        self._seen[key] = problem
        return problem

    def _compile(self, text: str, include_prerelease: bool) -> str:
        if len(self._seen) >= MAX_DISTINCT_PATTERNS:
            self.exceeded = True
            return (
                f"more than {MAX_DISTINCT_PATTERNS:,} different patterns in one rules file; "
                "merge them (globs take {a,b}, regexes take a|b)"
            )
        try:
            matcher = compile_pattern(text, include_prerelease=include_prerelease)
        except PatternError as exc:
            return str(exc)
        self.weight += matcher.size
        if self.weight > MAX_PATTERN_WEIGHT:
            self.exceeded = True
            return (
                f"the file's patterns compile to more than {MAX_PATTERN_WEIGHT:,} characters in all "
                "(brace groups multiply a glob); simplify them"
            )
        return ""
