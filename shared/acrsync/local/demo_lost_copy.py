"""The demo's data-plane act, one step: a push whose event never arrives still reaches Harbor.

The image is pushed to the source registry stand-in and its tag set in the emulated instance, and no event
is delivered; one reconciler timer tick lists the source (``ListRepoTag``) and Harbor (``tags/list``), finds
the tag missing there and repairs it through the ledger and the copier, as for any copy destination.
"""

from __future__ import annotations

import json
import time

from acrsync.local import fc
from acrsync.local.oci_images import put_index
from acrsync.local.oci_registry import OciRegistry
from acrsync.local.stack import SOURCE, LocalCloud

LOST_TAG = "v1.5.0"


def lost_push_repaired(
    cloud: LocalCloud, source: OciRegistry, harbor: OciRegistry, env: dict[str, str]
) -> str:
    """Push ``team-a/web:LOST_TAG`` without its event, run one reconciler pass: the digest Harbor then holds
    for the tag when it is the pushed one, else ""."""
    index = put_index(source.state, "team-a/web", LOST_TAG, layer_sizes=(32 * 1024,))
    cloud.model.push(SOURCE[0], "team-a", "web", LOST_TAG, index.digest)
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    tick = {"triggerName": "reconcile", "triggerTime": now, "payload": '{"mode":"reconcile"}'}
    fc.invoke("reconciler", json.dumps(tick).encode(), env)
    found = harbor.state.get_manifest("dr/team-a/web", LOST_TAG)
    return index.digest if found is not None and found[2] == index.digest else ""
