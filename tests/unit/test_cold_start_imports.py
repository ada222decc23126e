"""Cold start: a function instance imports only what it uses. Importing a handler (and so the whole
``acrsync.bootstrap`` package) loads no cloud SDK and no ``tablestore`` (which drags in numpy); building a
SQLite-backed instance's ports does not either. Each case runs in a fresh interpreter, as FC starts one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(p.name for p in (REPO / "functions").iterdir() if (p / "handler.py").exists())
HEAVY = (
    "tablestore",
    "numpy",
    "alibabacloud_cr20181201",
    "alibabacloud_fc20230330",
    "alibabacloud_eventbridge20200401",
    "alibabacloud_credentials",
    "alibabacloud_tea_openapi",
    "yaml",
)
REPORT = f"""
import json
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))
ours = sorted(m for m in sys.modules if m.startswith('acrsync.bootstrap'))
print(json.dumps({{'heavy': heavy, 'bootstrap': ours}}))
"""


def _run(script: str, env: dict[str, str] | None = None) -> dict[str, list[str]]:
    proc = subprocess.run(
        [sys.executable, "-c", script + REPORT],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, list[str]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def test_the_function_list_is_not_empty() -> None:
    assert {"replicator", "watcher", "reconciler", "copier"} <= set(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_given_a_fresh_instance_when_its_handler_is_imported_then_no_sdk_nor_tablestore_is(
    function: str,
) -> None:
    code_dir = REPO / "functions" / function
    found = _run(f"import sys\nsys.path.insert(0, {str(code_dir)!r})\nimport handler\n")
    assert found["heavy"] == []
    assert "acrsync.bootstrap" in found["bootstrap"]  # the handler did reach the composition root


def test_given_a_sqlite_store_when_the_replicator_and_watcher_ports_are_built_then_no_sdk_is_imported(
    tmp_path: Path,
) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "ACRSYNC_STORE": f"sqlite:///{tmp_path / 'acrsync.db'}",
        "ACRSYNC_REGION": "cn-hangzhou",
        "ACRSYNC_ALLOWED_ACCOUNT_IDS": "1234567890",
    }
    found = _run(
        "import sys\nfrom acrsync import bootstrap\n"
        "bootstrap.replicator_deps(None)\nbootstrap.watcher_deps(None)\nbootstrap.reset()\n",
        env,
    )
    assert found["heavy"] == []
    assert {"acrsync.bootstrap.core", "acrsync.bootstrap.replication"} <= set(found["bootstrap"])
