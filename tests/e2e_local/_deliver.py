"""Run in a child process: deliver one event N times through the replicator handler, as FC would."""

from __future__ import annotations

from collections.abc import Mapping


def deliver(env: Mapping[str, str], event: bytes, times: int) -> list[str]:
    from acrsync import bootstrap
    from acrsync.local import fc

    bootstrap.reset(env)
    return [str(fc.invoke("replicator", event, env)["status"]) for _ in range(times)]
