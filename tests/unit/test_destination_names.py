"""Names outside the distribution grammar never reach CreateRepoSyncTask, on any path: events, rendered
templates (replicator and backfill), ``acr-sync replicate``, and retries of rows an older version wrote."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from acrsync import bootstrap
from acrsync.cli.app import app
from acrsync.domain.alerts import DEFAULT_WINDOW_S
from acrsync.domain.images import DestinationImage, SourceImage, SyncRequest
from acrsync.domain.ledger import State, new_claim
from tests.fixtures import load_event
from tests.harness import push_event
from tests.offline_functions import OfflineFunctions

DIGEST = "sha256:" + "7" * 64
WEBHOOK = "https://oapi.dingtalk.com/robot/send?access_token=planted-names-token"
# Literals are fine; what a push renders them into need not be: tag "V2" gives namespace "team-a-V2".
TEMPLATED_RULES = """\
version: 1
rules:
  - name: tag-namespaces
    source: {instance: cri-demo-src, repositories: ["team-a/*"]}
    destinations:
      - {instance: cri-demo-sh, region: cn-shanghai, namespace: "{namespace}-{tag}"}
      - {instance: cri-demo-bj, region: cn-beijing}
"""
runner = CliRunner()


@pytest.fixture
def functions(tmp_path: Path) -> Iterator[OfflineFunctions]:
    world = OfflineFunctions(tmp_path)
    world.configure(ACRSYNC_DINGTALK_WEBHOOK=WEBHOOK)
    rules = tmp_path / "rules.yaml"
    rules.write_text(TEMPLATED_RULES)
    world.apply_rules(rules)
    world.model.push("cri-demo-src", "team-a", "web", "V2", DIGEST)
    yield world
    world.close()


@pytest.mark.parametrize("name", ["a._b", "a___b", "a..b", "a.-b", "web\n"])
@pytest.mark.parametrize("field", ["namespace", "repo"])
def test_event_names_outside_the_grammar_are_refused_before_any_api_call(
    functions: OfflineFunctions, name: str, field: str
) -> None:
    # GIVEN a push naming a namespace or repository the registry grammar refuses
    body = push_event("v1.2.3", DIGEST, event_id="evt-names", **{field: name})
    # WHEN the replicator gets it THEN it is refused naming the field, and ACR is never called
    response = functions.invoke("replicator", body)
    key = "RepoNamespaceName" if field == "namespace" else "RepoName"
    assert response["reason"].startswith("invalid_value: data.")
    assert f"data.{key}" in response["reason"]
    assert functions.model.requests == []


def test_a_template_rendering_a_bad_name_is_recorded_and_alerted_never_submitted(
    functions: OfflineFunctions,
) -> None:
    # WHEN team-a/web:V2 is pushed (the Shanghai destination renders namespace "team-a-V2")
    response = functions.invoke("replicator", push_event("V2", DIGEST))
    # THEN Beijing gets its task, Shanghai a failed row naming the template, and no call names "team-a-V2"
    outcomes = {r["destination"].split("@")[0]: r for r in response["results"]}
    assert outcomes["cri-demo-bj"]["outcome"] == "submitted"
    failed = outcomes["cri-demo-sh"]
    assert failed["outcome"] == "failed"
    assert "namespace template '{namespace}-{tag}' gives 'team-a-V2'" in failed["error"]
    assert [r.params["TargetInstanceId"] for r in functions.creates()] == ["cri-demo-bj"]
    row = next(r for r in bootstrap.stores().ledger.scan() if r.dest_instance == "cri-demo-sh")
    assert (row.state, row.error_class) == (State.FAILED, "invalid_destination")
    # AND once the alert window closes, the watcher's tick alerts it, with the reason
    functions.clock.advance(DEFAULT_WINDOW_S + 1)
    functions.invoke("watcher", load_event("timer/sweep.json"))
    texts = [message.markdown for _, message in functions.notifier.sent]
    assert any("team-a-V2" in text and "destination template" in text for text in texts)


def test_backfill_reports_a_rendered_bad_name_and_never_submits_it(functions: OfflineFunctions) -> None:
    # WHEN backfill plans the existing team-a tags, V2 among them
    result = runner.invoke(app, ["backfill", "--json"])
    # THEN it says which destination was refused and why, and no task names the bad namespace
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["actions"]["invalid_destination"] >= 1
    refused = [i for i in report["items"] if i["action"] == "invalid_destination"]
    assert any("gives 'team-a-V2'" in i["error"] for i in refused)
    assert all(r.params["TargetNamespace"] != "team-a-V2" for r in functions.creates())


@pytest.mark.parametrize(
    ("image", "to", "bad"),
    [
        ("cri-demo-src/team-a/web:v1.2.3", "cri-demo-sh/cn-shanghai/a._b/web:v1.2.3", "'a._b'"),
        ("cri-demo-src/team-a/web:v1.2.3", "cri-demo-sh/cn-shanghai/team-a/a___b:v1.2.3", "'a___b'"),
        ("cri-demo-src/a..b/web:v1.2.3", "cri-demo-sh/cn-shanghai", "'a..b'"),
        ("cri-demo-src/team-a/web:v1.2.3", "cri-demo-sh/cn-shanghai\n/team-a/web:v1", "'cn-shanghai\\n'"),
    ],
)
def test_replicate_cli_refuses_bad_names_before_any_api_call(
    functions: OfflineFunctions, image: str, to: str, bad: str
) -> None:
    # WHEN an operator names a bad namespace, repository or region THEN exit 1 naming it; ACR is not called
    result = runner.invoke(app, ["replicate", image, "--to", to, "--json"])
    assert result.exit_code == 1
    assert bad in result.stderr
    assert result.stdout == ""
    assert functions.model.requests == []


def test_a_stored_row_with_a_bad_name_fails_on_retry_instead_of_reaching_acr(
    functions: OfflineFunctions,
) -> None:
    # GIVEN a retrying row an older version wrote, before names followed the grammar ("a._b")
    source = SourceImage("cri-demo-src", "cn-hangzhou", "team-a", "web", "V2", DIGEST, "crr-1")
    request = SyncRequest(
        "old-rule", source, DestinationImage("cri-demo-sh", "cn-shanghai", "a._b", "web", "V2")
    )
    now = functions.clock.now()
    claimed = new_claim(request, event_id="evt-old", now=now)
    submitted = claimed.moved_to(State.SUBMITTED, now, task_id="rst-old", attempts=1)
    row = submitted.moved_to(State.RETRYING, now, next_check_at=now, last_error="transient")
    ledger = bootstrap.stores().ledger
    ledger.claim(row)
    # WHEN the watcher's sweep finds it due
    functions.invoke("watcher", load_event("timer/sweep.json"))
    # THEN it fails with the reason instead of being submitted
    stored = ledger.get(row.claim_id)
    assert stored is not None
    assert (stored.state, stored.error_class) == (State.FAILED, "invalid_name")
    assert "namespace 'a._b' is not a valid ACR namespace" in stored.last_error
    assert functions.creates() == []
