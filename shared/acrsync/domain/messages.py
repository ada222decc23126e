"""The alert message value, alone in a small module so the ports (and cold start) need nothing else."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """A markdown message for one channel: what ``domain.alerts`` renders and a ``Notifier`` sends."""

    title: str
    markdown: str
