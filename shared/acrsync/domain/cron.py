"""A crontab schedule checked as cron reads it, and a crontab line that runs a command on it.

The grammar is crontab(5) (cronie / Vixie cron, the cron of every common Linux distribution): five fields
``minute hour day-of-month month day-of-week``; each a comma-separated list of ``*``, ``N`` or ``N-M``, each
optionally ``/STEP``; month and day-of-week also take three-letter English names, but only alone ("Ranges or
lists of names are not allowed"); day-of-week 0 and 7 are both Sunday. The nicknames ``@hourly``,
``@daily``, ``@midnight``, ``@weekly``, ``@monthly``, ``@yearly`` and ``@annually`` stand for a schedule;
``@reboot`` is not one. In the command, an unescaped ``%`` ends the command (the rest becomes its stdin), so
every ``%`` is written ``\\%``. https://man7.org/linux/man-pages/man5/crontab.5.html
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

NICKNAMES = frozenset({"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"})
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# (name, lowest, highest, names allowed alone)
FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_ITEM_RE = re.compile(r"^(?P<span>\*|\d{1,2}(?:-\d{1,2})?)(?:/(?P<step>\d{1,2}))?\Z")
EXAMPLE = "*/30 * * * *"
MAX_SHOWN_CHARS = 80


class CronError(ValueError):
    """The schedule is not one cron would run; the message says which field and why."""


def check_schedule(expression: str) -> str:
    """The schedule in normal form (fields separated by one space); raise ``CronError`` otherwise."""
    text = expression.strip()
    shown = repr(text[:MAX_SHOWN_CHARS])
    if text.startswith("@"):
        if text.lower() in NICKNAMES:
            return text.lower()
        raise CronError(
            f"{shown}: not a schedule nickname; use one of {', '.join(sorted(NICKNAMES))} "
            f"or five fields, e.g. {EXAMPLE!r}"
        )
    fields = text.split()
    if len(fields) != len(FIELDS):
        raise CronError(
            f"{shown}: {len(fields)} field(s); a cron schedule has 5: minute hour day-of-month month "
            f"day-of-week, e.g. {EXAMPLE!r} (every 30 minutes); quote it in the shell"
        )
    for index, (value, spec) in enumerate(zip(fields, FIELDS, strict=True), 1):
        problem = _field_problem(value, spec)
        if problem:
            raise CronError(f"{shown}: field {index} ({spec[0]}) {value[:20]!r}: {problem}")
    return " ".join(fields)


def _field_problem(value: str, spec: tuple[str, int, int, tuple[str, ...]]) -> str:
    _name, low, high, names = spec
    if names and value.lower() in names:
        return ""
    for item in value.split(","):
        match = _ITEM_RE.match(item)
        if match is None:
            alone = f"; names ({names[0]}, ...) only alone" if names else ""
            return f"{item[:20]!r} is not *, N, N-M or one of those /STEP{alone}"
        span, step = match["span"], match["step"]
        where = f"{item!r}: " if item != value else ""
        if step is not None and int(step) < 1:
            return f"{where}the step must be at least 1"
        if span != "*":
            first, _, last = span.partition("-")
            ends = (int(first), int(last or first))
            if not all(low <= n <= high for n in ends):
                return f"{where}outside {low}-{high}"
            if ends[0] > ends[1]:
                return f"{where}a range goes from low to high"
    return ""


def crontab_line(schedule: str, setup: str, argv: Sequence[str], redirections: str) -> str:
    """One crontab line: ``schedule setup && argv redirections``, argv shell-quoted, every ``%`` escaped.

    ``setup`` and ``redirections`` are shell text written by the caller (they may use ``$HOME``)."""
    command = " ".join(shlex.quote(a) for a in argv)
    body = f"{setup} && {command} {redirections}" if setup else f"{command} {redirections}"
    return f"{check_schedule(schedule)} {body.replace('%', chr(92) + '%')}"
