"""Durations as operators type them: ``30m``, ``6h``, ``24h``, ``7d`` (also ``s`` and ``w``). Pure.

One grammar for ``status --since``, the rules file's ``prune_grace`` and the reconciler's settings.
"""

from __future__ import annotations

import re

from acrsync.domain.quote import show

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*\Z")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """``30m``, ``1h``, ``24h``, ``7d`` (also ``s``, ``w``) in seconds, else a ``ValueError`` that says so."""
    m = _DURATION_RE.match(text or "")
    if not m or float(m.group(1)) <= 0:
        raise ValueError(
            f"{show(text)} is not a duration: expected a number and a unit, e.g. 30m, 1h, 24h, 7d"
        )
    return float(m.group(1)) * _UNIT_S[m.group(2)]
