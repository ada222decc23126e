"""The outcome-event contract: docs/outcome-event.schema.json against the events the code builds, and the
example EventBridge rule (examples/outcome-rule.json) against them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from acrsync.deploy_checks import pattern_matches
from acrsync.domain.ledger import LedgerEntry, State
from acrsync.domain.outcomes import OUTCOMES, cloud_event, event_id
from tests.builders import ledger_entry

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "docs" / "outcome-event.schema.json").read_text(encoding="utf-8"))
RULE = json.loads((REPO / "examples" / "outcome-rule.json").read_text(encoding="utf-8"))


def entry(region: str = "cn-shanghai", tag: str = "v1.2.3") -> LedgerEntry:
    return ledger_entry(
        "0123456789abcdef" * 2,
        tag=tag,
        rule="team-a-releases",
        digest="sha256:" + "c" * 64,
        dest_region=region,
        state=State.VERIFIED,
        task_id="rst-abc",
        attempts=1,
    )


def event(outcome: str, **kwargs: Any) -> dict[str, Any]:
    return cloud_event(entry(**kwargs), outcome, "2026-11-30T10:00:00.000000Z")


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_every_outcome_event_validates_against_the_published_schema(outcome: str) -> None:
    jsonschema.validate(event(outcome), SCHEMA)


def test_the_schema_refuses_what_the_code_never_sends() -> None:
    bad = event("verified")
    bad["data"]["extra"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


def test_ids_are_stable_per_claim_and_outcome_and_distinct_across_them() -> None:
    assert event("verified")["id"] == event("verified")["id"] == event_id("0123456789abcdef" * 2, "verified")
    assert len({event(o)["id"] for o in OUTCOMES}) == len(OUTCOMES)


def test_the_example_rule_fires_on_a_verified_release_in_shanghai_only() -> None:
    pattern = RULE["FilterPattern"]
    assert pattern_matches(pattern, event("verified"))
    assert not pattern_matches(pattern, event("failed"))
    assert not pattern_matches(pattern, event("verified", region="cn-beijing"))
    assert not pattern_matches(pattern, event("verified", tag="latest"))


def test_the_example_rule_targets_a_function_in_the_bus_region() -> None:
    (target,) = RULE["Targets"]
    assert target["Type"] == "acs.fc.function"
    assert target["Endpoint"].split(":")[2] == "cn-hangzhou"  # targets must be in the bus's region


def test_a_referrer_copys_events_say_which_image_it_refers_to_and_validate() -> None:
    from dataclasses import replace

    subject = "sha256:" + "d" * 64
    row = replace(entry(), extra={"kind": "copy", "referrer_of": subject})
    sent = cloud_event(row, "verified", "2026-11-30T10:00:00.000000Z")
    jsonschema.validate(sent, SCHEMA)
    assert sent["data"]["referrerOf"] == subject
    assert "referrerOf" not in event("verified")["data"]
    # the example rule starts a rollout for images only, not again for each signature that follows one
    assert pattern_matches(RULE["FilterPattern"], event("verified"))
    assert not pattern_matches(RULE["FilterPattern"], sent)
