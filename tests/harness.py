"""Test helpers over ``acrsync.local.fake_world``: the world of fakes, and event builders."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from acrsync.domain.ledger import LedgerEntry
from acrsync.local.fake_world import EXAMPLE_RULES, ROOT, RecordingNotifier, World, make_world

__all__ = ["EXAMPLE_RULES", "ROOT", "RecordingNotifier", "World", "make_world", "push_event", "with_changes"]


def push_event(
    tag: str, digest: str, *, namespace: str = "team-a", repo: str = "web", event_id: str = ""
) -> bytes:
    """A PushCompleted envelope for cri-demo-src (the shape of events/acs.cr/push_completed.json)."""
    doc = json.loads((ROOT / "events" / "acs.cr" / "push_completed.json").read_text())
    doc["id"] = event_id or f"evt-{namespace}-{repo}-{tag}"
    data = doc["data"]
    data.update({"RepoNamespaceName": namespace, "RepoName": repo, "Tag": tag, "Digest": digest})
    data.pop("RepoId", None)
    return json.dumps(doc).encode()


def with_changes(entry: LedgerEntry, **changes: Any) -> LedgerEntry:
    return replace(entry, **changes)
