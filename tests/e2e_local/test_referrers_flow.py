"""Tagless OCI 1.1 referrers follow their image after it was replicated: the reconciler's referrer step.

Over the wire: the replicator, the reconciler and the watcher through ``handler(bytes, context)``; every
ACR instance's registry is an OCI stand-in reached the cloud's way (the real ACR SDK asks the emulator
``ListInstanceEndpoint`` and ``GetAuthorizationToken``); the copy destination is a "Harbor" stand-in.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from acrsync import bootstrap
from acrsync.cli.app import app
from acrsync.domain.ledger import State
from acrsync.local.oci_store import Fault
from acrsync.local.referrers_world import REPO, ReferrersWorld, referrers_world
from acrsync.local.stack import SHANGHAI
from acrsync.service import operate, reconcile
from acrsync.service.clock import ManualClock

pytestmark = pytest.mark.loopback
WRITES = ("POST", "PUT", "PATCH")
World = ReferrersWorld


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with referrers_world(tmp_path, ManualClock(start=time.time())) as w:
        yield w


def test_given_a_tagless_signature_pushed_after_replication_when_the_reconciler_passes_then_it_follows(
    world: World,
) -> None:
    # GIVEN an image copied to Harbor and synced by ACR to Shanghai (companions on) and Beijing (off)
    image = world.replicate("v1.0.0")
    assert {r.state for r in world.rows()} == {State.VERIFIED}
    assert world.referrers_at("harbor", f"dr/{REPO}", image.digest) == []
    # WHEN it is signed with a tagless OCI 1.1 referrer (no tag, no push event), and the reconciler passes
    signature = world.sign(image)
    response = world.reconcile()
    # THEN the signature is at Harbor and in Shanghai's registry, and not in Beijing's
    assert response["completed"] is True
    assert response["referrers_copied"] == 2
    assert world.referrers_at("harbor", f"dr/{REPO}", image.digest) == [signature.digest]
    assert world.referrers_at("shanghai", REPO, image.digest) == [signature.digest]
    assert world.referrers_at("beijing", REPO, image.digest) == []
    # AND each copy is a verified ledger row keyed by subject, referrer and destination
    rows = world.referrer_rows()
    assert sorted((r.dest_instance, r.dest_region) for r in rows) == [
        (SHANGHAI[0], SHANGHAI[1]),
        (f"{world.regs['harbor'].url}/dr", "oci"),
    ]
    assert {(r.state, r.digest, r.extra["referrer_of"]) for r in rows} == {
        (State.VERIFIED, signature.digest, image.digest)
    }
    # AND Shanghai's registry was reached the cloud's way
    endpoints = world.cloud.model.requests_for("ListInstanceEndpoint")
    assert SHANGHAI[0] in {r.params["InstanceId"] for r in endpoints}
    # AND `acr-sync status` says what the last pass did with referrers
    status = CliRunner().invoke(app, ["status"])
    assert "referrers: copied 2" in " ".join(status.output.split())


def test_given_referrers_copied_when_the_reconciler_passes_again_then_nothing_is_sent(world: World) -> None:
    image = world.replicate("v1.1.0")
    world.sign(image)
    assert world.reconcile()["referrers_copied"] == 2
    marks = {name: len(reg.state.log) for name, reg in world.regs.items()}
    rows_before = [(r.claim_id, r.revision) for r in world.referrer_rows()]
    # WHEN the next pass runs
    again = world.reconcile()
    # THEN it copies nothing: no upload or manifest write reached any registry, the rows are untouched
    assert again["completed"] is True
    assert again["referrers_copied"] == 0
    assert again["referrers"]["present"] == 2
    for name, reg in world.regs.items():
        sent = [e for e in reg.state.log[marks[name] :] if e.method in WRITES]
        assert sent == [], name
    assert [(r.claim_id, r.revision) for r in world.referrer_rows()] == rows_before


def test_given_a_source_without_the_referrers_api_when_passed_then_the_pass_completes_and_says_so(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    image = world.replicate("v1.2.0")
    world.sign(image)
    world.regs["source"].state.faults.append(Fault("GET", "/referrers/", 404, times=100))
    response = world.reconcile()
    assert response["completed"] is True
    assert response["referrers_copied"] == 0
    assert response["referrers"]["unsupported"] == 1
    assert world.referrer_rows() == []
    text = capsys.readouterr().out
    assert text.count('"referrers_api_unsupported"') == 1
    assert world.regs["source"].host in text


def test_given_a_5xx_during_one_copy_when_passed_then_that_row_retries_then_fails_alerted_and_others_arrive(
    world: World,
) -> None:
    image = world.replicate("v1.3.0")
    signature = world.sign(image)
    # every manifest write to Harbor answers 503 (Retry-After 0 keeps the client's own retries fast)
    world.regs["harbor"].state.faults.append(Fault("PUT", "/manifests/", 503, times=10_000, retry_after=0))
    response = world.reconcile()
    # THEN the pass completed: Shanghai got the signature, Harbor's copy waits for a retry
    assert response["completed"] is True
    assert response["referrers"] == {**response["referrers"], "copied": 1, "retrying": 1}
    assert world.referrers_at("shanghai", REPO, image.digest) == [signature.digest]
    (harbor_row,) = [r for r in world.referrer_rows() if r.state is not State.VERIFIED]
    assert harbor_row.state is State.RETRYING
    assert harbor_row.error_class == "copy_transient"
    # WHEN the watcher re-launches it until the attempts run out
    for _ in range(3):
        world.clock.advance(901)
        world.tick()
    (harbor_row,) = [r for r in world.referrer_rows() if r.state is not State.VERIFIED]
    assert harbor_row.state is State.FAILED
    assert harbor_row.attempts == harbor_row.max_attempts
    # AND one alert names the rule, the image and the referrer; a later pass does not claim it again
    world.clock.advance(61)
    world.tick()
    (message,) = world.cloud.sink.messages
    text = json.dumps(message.body, ensure_ascii=False)
    assert "web-everywhere" in text
    assert signature.digest in text
    assert image.digest in text
    assert world.reconcile()["referrers"].get("copied", 0) == 0
    # AND `status` lists it as a referrer of the image, not as the image
    report = operate.recent_status(bootstrap.stores().ledger, world.clock, since_s=3600).as_dict(0)
    (failure,) = report["failures"]
    assert failure["digest"] == signature.digest
    assert failure["reason"].startswith(f"OCI referrer of {image.digest[:19]}")


def test_given_the_window_set_to_zero_when_passed_then_no_registry_is_asked_for_referrers(
    world: World,
) -> None:
    image = world.replicate("v1.4.0")
    world.sign(image)
    world.env["ACRSYNC_REFERRERS_WINDOW_HOURS"] = "0"
    bootstrap.reset(world.env)
    bootstrap.use(clock=world.clock)
    marks = {name: len(reg.state.log) for name, reg in world.regs.items()}  # the copy job asked once
    response = world.reconcile()
    assert response["completed"] is True
    assert response["referrers_copied"] == 0
    asked = [e for n, reg in world.regs.items() for e in reg.state.log[marks[n] :] if "/referrers/" in e.path]
    assert asked == []


def test_the_demos_data_plane_act_shows_a_late_signature_arriving_at_harbor(tmp_path: Path) -> None:
    from acrsync.local import demo_dataplane

    said: list[str] = []
    report = demo_dataplane.run(tmp_path, say=said.append)
    assert report.late_referrer.startswith("sha256:")
    assert any("one reconciler pass copied it to Harbor" in line for line in said)
    assert report.canary is not None
    assert report.canary.passed


def test_given_a_slice_out_of_time_mid_step_when_the_next_slice_runs_then_it_resumes_after_the_last_subject(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = [world.replicate("v2.0.0"), world.replicate("v2.1.0")]
    for image in images:
        world.sign(image)
    deps = bootstrap.reconciler_deps()
    assert deps.referrers is not None
    claim = deps.referrers.copies.ledger.claim

    def slow_claim(entry: Any) -> None:  # each referrer copy takes 10 s of the slice
        claim(entry)
        world.clock.advance(10)

    monkeypatch.setattr(deps.referrers.copies.ledger, "claim", slow_claim)
    # WHEN a slice has time for one subject only (its two copies use up what the margin leaves)
    first = reconcile.run_slice(deps, deadline=world.clock.monotonic() + reconcile.SLICE_MARGIN_S + 5)
    assert (first.completed, first.stopped) == (False, "deadline")
    assert (first.tally.referrers["subjects"], first.tally.referrers["copied"]) == (1, 2)
    cursor, _ = deps.state.read(reconcile.CURSOR_KEY)
    done = min(i.digest for i in images)  # subjects go in key order
    assert cursor["referrers_after"].endswith("@" + done)
    assert cursor["done"] == 0  # team-a/web is audited again by the next slice
    # THEN the next slice resumes after that subject and completes the pass
    second = reconcile.run_slice(deps, deadline=world.clock.monotonic() + 600)
    assert second.completed
    assert (second.summary["referrers"]["subjects"], second.summary["referrers_copied"]) == (2, 4)
    for image in images:
        assert len(world.referrers_at("harbor", f"dr/{REPO}", image.digest)) == 1


def test_given_a_destination_whose_referrers_listing_fails_when_passed_then_others_still_get_theirs(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    image = world.replicate("v1.5.0")
    signature = world.sign(image)
    world.regs["shanghai"].state.faults.append(Fault("GET", "/referrers/", 500, times=10_000, retry_after=0))
    response = world.reconcile()
    assert response["completed"] is True
    assert response["referrers"]["unreadable"] == 1
    assert response["referrers_copied"] == 1
    assert world.referrers_at("harbor", f"dr/{REPO}", image.digest) == [signature.digest]
    assert [r.dest_region for r in world.referrer_rows()] == ["oci"]  # nothing claimed for Shanghai
    assert '"referrers_destination_unreadable"' in capsys.readouterr().out


def test_given_an_acr_destination_briefly_failing_when_the_watcher_retries_then_the_copier_delivers_it(
    world: World,
) -> None:
    image = world.replicate("v1.6.0")
    signature = world.sign(image)
    # Shanghai's registry refuses manifest writes for a moment: longer than the client's own retries
    world.regs["shanghai"].state.faults.append(Fault("PUT", "/manifests/", 503, times=5, retry_after=0))
    assert world.reconcile()["referrers"]["retrying"] == 1
    (row,) = [r for r in world.referrer_rows() if r.dest_region == SHANGHAI[1]]
    assert row.state is State.RETRYING
    # WHEN the watcher's retry is due: it re-launches the row through the copier, as any copy row
    world.clock.advance(901)
    world.tick()
    (row,) = [r for r in world.referrer_rows() if r.dest_region == SHANGHAI[1]]
    assert row.state is State.VERIFIED
    assert world.referrers_at("shanghai", REPO, image.digest) == [signature.digest]
