"""Companions to ACR-sync destinations (``companions: true``): signature tags get their own sync tasks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acrsync import bootstrap
from acrsync.domain.rules_schema import validate_document
from acrsync.local import fc
from acrsync.local.acr_model import AcrModel
from acrsync.local.stack import ACCOUNT_ID, SHANGHAI, SOURCE, LocalCloud
from acrsync.service import rules_admin
from acrsync.service.clock import ManualClock
from tests.fixtures import load_event

pytestmark = pytest.mark.loopback
IMAGE = "sha256:" + "ab" * 32
SIG = "sha256:" + "5e" * 32
SIG_TAG = IMAGE.replace(":", "-") + ".sig"


def _start(tmp_path: Path, companions: bool) -> Iterator[LocalCloud]:
    clock = ManualClock(start=time.time())
    with LocalCloud(tmp_path, model=AcrModel(account_id=ACCOUNT_ID, clock=clock.now)) as cloud:
        bootstrap.reset(cloud.env)
        bootstrap.use(clock=clock)
        destination: dict[str, Any] = {"instance": SHANGHAI[0], "region": SHANGHAI[1]}
        if companions:
            destination["companions"] = True
        doc = validate_document(
            {
                "version": 1,
                "rules": [
                    {
                        "name": "signed-releases",
                        "source": {"instance": SOURCE[0], "repositories": ["team-a/*"]},
                        "tags": {"include": ["semver:>=1.0.0"]},
                        "destinations": [destination],
                    }
                ],
            }
        )
        rules_admin.apply(bootstrap.stores().rules, doc, prune=True, dry_run=False, now=clock.now())
        yield cloud
        bootstrap.reset()


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[LocalCloud]:
    yield from _start(tmp_path, companions=True)


@pytest.fixture
def plain_cloud(tmp_path: Path) -> Iterator[LocalCloud]:
    yield from _start(tmp_path, companions=False)


def _event(tag: str, digest: str) -> bytes:
    doc = json.loads(load_event("acs.cr/push_completed.json"))
    doc["data"].update(Tag=tag, Digest=digest, RepoId="")
    doc["id"] = f"evt-{tag}"
    return json.dumps(doc).encode()


def _synced_tags(cloud: LocalCloud) -> list[str]:
    return sorted(
        r.params["Tag"] for r in cloud.model.requests_for("CreateRepoSyncTask") if r.outcome == "ok"
    )


def test_given_a_signed_image_when_pushed_then_its_signature_tag_is_synced_too(cloud: LocalCloud) -> None:
    cloud.model.push(SOURCE[0], "team-a", "web", SIG_TAG, SIG)  # signed before the push event arrived
    cloud.model.push(SOURCE[0], "team-a", "web", "1.0.0", IMAGE)
    fc.invoke("replicator", _event("1.0.0", IMAGE), cloud.env)
    assert _synced_tags(cloud) == ["1.0.0", SIG_TAG]


def test_given_a_signature_pushed_later_when_its_event_arrives_then_it_follows_its_image(
    cloud: LocalCloud,
) -> None:
    cloud.model.push(SOURCE[0], "team-a", "web", "1.0.0", IMAGE)
    fc.invoke("replicator", _event("1.0.0", IMAGE), cloud.env)
    cloud.model.push(SOURCE[0], "team-a", "web", SIG_TAG, SIG)
    response = fc.invoke("replicator", _event(SIG_TAG, SIG), cloud.env)
    assert [r["outcome"] for r in response["results"]] == ["submitted"]
    assert _synced_tags(cloud) == ["1.0.0", SIG_TAG]
    # a second delivery of the signature's event is a duplicate, not a second task
    fc.invoke("replicator", _event(SIG_TAG, SIG), cloud.env)
    assert _synced_tags(cloud) == ["1.0.0", SIG_TAG]


def test_given_companions_off_when_a_signature_is_pushed_then_it_is_not_synced(
    plain_cloud: LocalCloud,
) -> None:
    plain_cloud.model.push(SOURCE[0], "team-a", "web", SIG_TAG, SIG)
    plain_cloud.model.push(SOURCE[0], "team-a", "web", "1.0.0", IMAGE)
    fc.invoke("replicator", _event("1.0.0", IMAGE), plain_cloud.env)
    fc.invoke("replicator", _event(SIG_TAG, SIG), plain_cloud.env)
    assert _synced_tags(plain_cloud) == ["1.0.0"]
