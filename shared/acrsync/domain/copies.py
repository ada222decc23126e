"""Which ledger rows are copy jobs (``registry:`` destinations) rather than ACR sync tasks, and the copier's
job event. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from acrsync.domain._event_body import decode_body
from acrsync.domain._event_fields import (
    R_INVALID_VALUE,
    R_NOT_AN_OBJECT,
    R_UNRECOGNISED_SHAPE,
    R_WRONG_TYPE,
    excerpt,
    fail,
    json_type,
)
from acrsync.domain.images import COPY_REGION
from acrsync.domain.ledger import LedgerEntry

# A copy job is ``{"claim_id": "<ledger key>"}`` and nothing else (adapters/copy_launcher.py writes it):
# a few hundred bytes at most, so anything bigger is refused before it is parsed.
COPY_EVENT_MAX_BYTES: Final = 4096
# Ledger keys are 32 hex characters; any printable ASCII key up to 128 characters is looked up (and found
# or not), so a key always fits one log line and a store key.
_CLAIM_ID_RE: Final = re.compile(r"[!-~]{1,128}")


def is_copy(entry: LedgerEntry) -> bool:
    """A row served by the copier (a ``registry:`` destination), not by ``CreateRepoSyncTask``."""
    return entry.extra.get("kind") == "copy" or entry.dest_region == COPY_REGION


def is_referrer(entry: LedgerEntry) -> bool:
    """A copy row of a tagless OCI 1.1 referrer (``domain.referrers``): copied and verified by digest."""
    return bool(entry.extra.get("referrer_of"))


def parse_copy_event(raw: object) -> str:
    """The claim id of one copy job's body, or ``InvalidEvent`` with a reason (the events parser's reasons:
    ``oversize``, ``malformed_json``, ``duplicate_key``, ``not_an_object``, ...). Never raises anything else
    for bytes: nesting, huge numbers and bad UTF-8 are refused by the same bounded decoder as events."""
    doc = decode_body(raw, COPY_EVENT_MAX_BYTES)
    if not isinstance(doc, Mapping):
        raise fail("", R_NOT_AN_OBJECT, f'expected {{"claim_id": ...}}, got {json_type(doc)}')
    if set(doc) != {"claim_id"}:
        keys = ", ".join(excerpt(k, 32) for k in list(doc)[:5])
        raise fail("", R_UNRECOGNISED_SHAPE, f'expected {{"claim_id": ...}} and nothing else (keys: {keys})')
    claim_id = doc["claim_id"]
    if not isinstance(claim_id, str):
        raise fail("claim_id", R_WRONG_TYPE, f"claim_id must be a string, got {json_type(claim_id)}")
    if not _CLAIM_ID_RE.fullmatch(claim_id):
        raise fail("claim_id", R_INVALID_VALUE, f"claim_id {excerpt(claim_id)} is not a ledger key")
    return claim_id
