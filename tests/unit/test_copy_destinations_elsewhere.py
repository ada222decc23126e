"""A rule with a copy destination (``registry:``) is usable by every command and by the reconciler:
``rules apply`` (which re-validates what it stores), ``rules list``, ``rules explain``, ``doctor``'s
cross-account check and a reconciler pass — none of them assumes every destination has an instance."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from acrsync.cli.app import app
from acrsync.domain.reconcile import Finding, Kind, policies
from acrsync.local.reconcile_world import reconcile_deps, reconcile_pass
from acrsync.service.doctor_cross_account import cross_account_checks
from acrsync.service.reconcile import Options
from acrsync.service.rules_admin import validate_file
from tests.unit.reconcile_fixtures import reconcile_world

COPY_RULES = """
version: 1
rules:
  - name: dr
    source: {instance: cri-demo-src, repositories: ["team-a/*"]}
    destinations:
      - registry: harbor.example.com/dr
      - instance: cri-demo-sh
        region: cn-shanghai
"""


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(COPY_RULES, encoding="utf-8")
    return path


def test_given_a_copy_destination_without_credentials_when_applied_then_it_is_stored_and_listed(
    tmp_path: Path,
) -> None:
    env = {"ACRSYNC_STORE": f"sqlite:///{tmp_path / 'acrsync.db'}", "ACRSYNC_REGION": "cn-hangzhou"}
    runner = CliRunner()
    applied = runner.invoke(app, ["rules", "apply", str(_file(tmp_path))], env=env)
    assert applied.exit_code == 0, applied.output  # credentials_env is optional, also once stored
    listed = runner.invoke(app, ["rules", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "harbor.example.com/dr" in listed.output
    explained = runner.invoke(app, ["rules", "explain", "cri-demo-src/team-a/web:v1"], env=env)
    assert explained.exit_code == 0, explained.output
    assert "harbor.example.com/dr@oci/team-a/web:v1" in explained.output
    assert "cri-demo-sh@cn-shanghai on_conflict skip" in explained.output
    assert "1 sync task(s) would be created, and 1 copy job(s)" in explained.output


def test_doctor_and_the_reconciler_policies_pass_over_copy_destinations(tmp_path: Path) -> None:
    rules = validate_file(_file(tmp_path)).rules
    assert list(cross_account_checks(tuple(rules))) == []
    dests = policies(rules)["dr"].destinations
    assert set(dests) == {("cri-demo-sh", "cn-shanghai"), ("harbor.example.com/dr", "oci")}
    assert dests[("harbor.example.com/dr", "oci")].on_conflict == "skip"


def test_given_a_copy_destination_without_registry_clients_when_the_reconciler_passes_then_unverifiable(
    tmp_path: Path,
) -> None:
    world, _ = reconcile_world(tmp_path)
    world.model.push("cri-demo-src", "team-a", "web", "v1")
    findings: list[Finding] = []
    report = reconcile_pass(
        reconcile_deps(world, _file(tmp_path)),
        world,
        options=Options(write=False, cursor=False),
        on_finding=findings.append,
    )
    assert report.completed
    # (this world wires no registry clients: the functions' bootstrap always does, see test_reconciler_copy)
    assert {(f.kind, f.destination) for f in findings if "/web:v1" in f.source} == {
        (Kind.MISSING, "cri-demo-sh@cn-shanghai/team-a/web:v1"),
        (Kind.UNVERIFIABLE, "harbor.example.com/dr@oci/team-a/web:v1"),
    }
    (copy,) = [f for f in findings if "@oci" in f.destination]
    assert "no registry client" in copy.detail
    assert copy.outcome == "dry_run"  # never seen by the ledger: --repair would submit it
    listed = {r.params.get("InstanceId") for r in world.model.requests if r.action == "ListRepository"}
    assert "cri-demo-sh" in listed  # the ACR destination was listed
    assert "harbor.example.com/dr" not in listed  # never listed as if it were an ACR instance
