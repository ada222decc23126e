"""Bounded quoting of user values for messages: a rules file can hold a megabyte in one scalar.

Every message that shows what the author wrote goes through ``show`` or ``clip``, so an error is a line,
never a copy of the input (nor a ``repr`` walking an alias bomb, nor ``str`` of a 5,000-digit integer).
Pure.
"""

from __future__ import annotations

SHOWN_CHARS = 60


def clip(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` itself when short; else its first ``limit`` characters, an ellipsis and its length."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"


def show(value: object, limit: int = SHOWN_CHARS) -> str:
    """A bounded ``repr``: strings quoted and clipped, huge integers by size, containers by kind."""
    if isinstance(value, bool):
        shown = str(value).lower()
    elif isinstance(value, str):
        shown = repr(value) if len(value) <= limit else f"{value[:limit]!r}… ({len(value):,} characters)"
    elif isinstance(value, int) and value.bit_length() > 3 * limit:
        # ~limit digits or more: str() of a huge integer is slow, or refused (int_max_str_digits)
        shown = f"an integer of about {int(value.bit_length() * 0.30103):,} digits"
    elif isinstance(value, (int, float)):
        shown = repr(value)
    elif value is None:
        shown = "nothing"
    else:
        kinds = {"list": "a list", "dict": "a mapping"}
        shown = kinds.get(type(value).__name__, f"a {type(value).__name__}")
    return shown
