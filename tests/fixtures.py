"""Event fixtures: the JSON files under ``events/``, read as the bytes FC hands a handler."""

from __future__ import annotations

from pathlib import Path

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


def load_event(name: str) -> bytes:
    """The raw bytes of ``events/<name>``, e.g. ``load_event("acs.cr/push_completed.json")``."""
    path = (EVENTS_DIR / name).resolve()
    if EVENTS_DIR not in path.parents:
        raise ValueError(f"{name!r} is outside {EVENTS_DIR}")
    return path.read_bytes()


def event_names(folder: str = "") -> list[str]:
    """Every ``*.json`` fixture under ``events/<folder>``, as names ``load_event`` takes, sorted."""
    return sorted(p.relative_to(EVENTS_DIR).as_posix() for p in (EVENTS_DIR / folder).rglob("*.json"))
