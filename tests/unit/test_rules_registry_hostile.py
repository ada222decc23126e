"""``registry:`` values a rules file may not hold: refused by ``rules validate`` with a message that names the
key and never echoes a password written into the value (the review of issue 14's hostile inputs)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from acrsync.cli.app import app

runner = CliRunner()
PASSWORD = "S3cret-Planted-77aa"


def _validate(tmp_path: Path, registry: str) -> tuple[int, str]:
    dest = {"registry": registry, "credentials_env": "ACRSYNC_REGISTRY_HARBOR"}
    doc = {
        "version": 1,
        "rules": [{"name": "r", "source": {"instance": "cri-src"}, "destinations": [dest]}],
    }
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = runner.invoke(app, ["rules", "validate", str(path)])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    "registry",
    [f"robot:{PASSWORD}@harbor.example.com/dr", f"https://robot:{PASSWORD}@harbor.example.com"],
    ids=["bare", "https"],
)
def test_given_credentials_inside_registry_when_validated_then_refused_without_echoing_them(
    tmp_path: Path, registry: str
) -> None:
    code, output = _validate(tmp_path, registry)
    assert code == 1
    assert "destinations[0].registry: credentials do not belong in registry:" in output
    assert "credentials_env" in output
    assert PASSWORD not in output
    assert "robot" not in output


@pytest.mark.parametrize("port", ["0", "65536", "99999"])
def test_given_a_port_outside_1_to_65535_when_validated_then_refused(tmp_path: Path, port: str) -> None:
    code, output = _validate(tmp_path, f"harbor.example.com:{port}/dr")
    assert code == 1
    assert "the port must be 1-65535" in output


@pytest.mark.parametrize(
    "registry", ["harbor.example.com/dr\n", " harbor.example.com", "harbor.example.com\t"]
)
def test_given_whitespace_around_registry_when_validated_then_refused(tmp_path: Path, registry: str) -> None:
    code, output = _validate(tmp_path, registry)
    assert code == 1
    assert "registry: has leading or trailing whitespace" in output


@pytest.mark.parametrize(
    "registry", ["harbor.example.com:65535/dr", "[::1]:5000/dr", "http://127.0.0.1:5000"]
)
def test_given_ports_and_ipv6_in_range_when_validated_then_accepted(tmp_path: Path, registry: str) -> None:
    assert _validate(tmp_path, registry)[0] == 0
