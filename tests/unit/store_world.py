"""Helpers for the store tests: the handlers and the CLI as FC and an operator run them, over a real SQLite
file, with the ACR side pinned to the in-memory fake (no sockets in the unit tier)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from acrsync import bootstrap
from acrsync.cli.app import app
from acrsync.local import fc
from acrsync.local.stack import ACCOUNT_ID
from acrsync.logging import configure
from tests.harness import World, make_world

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_RULES = ROOT / "examples" / "rules.yaml"


def store_env(store: str | Path) -> dict[str, str]:
    """The function configuration with ``ACRSYNC_STORE`` set to ``store`` (a path means sqlite:///path)."""
    value = store if isinstance(store, str) else f"sqlite:///{store}"
    return {
        "ACRSYNC_STORE": value,
        "ACRSYNC_REGION": "cn-hangzhou",
        "ACRSYNC_ALLOWED_ACCOUNT_IDS": ACCOUNT_ID,
        "ACRSYNC_LOG_LEVEL": "DEBUG",
        "ALIBABA_CLOUD_ACCESS_KEY_ID": "test-key-id",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "test-key-secret",
    }


def pin(env: Mapping[str, str], world: World | None = None) -> World:
    """A fresh instance configured by ``env``; ACR is the fake ``world`` (built if not given)."""
    world = world or make_world()
    bootstrap.reset(env)
    bootstrap.use(registry=world.registry)
    return world


def invoke(function: str, event: bytes, env: Mapping[str, str], *, timeout: int = 60) -> dict[str, Any]:
    """``handler(event_bytes, context)`` as FC calls it, with a function timeout of ``timeout`` seconds."""
    context = fc.FcContext(
        request_id=str(uuid.uuid4()),
        function=fc.FcFunction(name=f"acr-sync-{function}", timeout=timeout),
        credentials=fc.FcCredentials(),
        region=env.get("ACRSYNC_REGION", ""),
    )
    return fc.load_handler(function)(event, context)


def cli(env: Mapping[str, str], *args: str, world: World | None = None) -> Result:
    """One ``acr-sync`` command with ``env`` as its environment (the bootstrap reads os.environ), as a
    fresh process would run it; ACR is the fake ``world`` when given."""
    bootstrap.reset()
    if world is not None:
        bootstrap.use(registry=world.registry)
    try:
        return CliRunner().invoke(app, list(args), env=dict(env))
    finally:
        configure(level="DEBUG")  # that "process" ended: what runs next logs JSON like a function again


def log_lines(text: str) -> list[dict[str, Any]]:
    """The JSON log lines in captured output."""
    lines = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            doc = json.loads(line)
            if isinstance(doc, dict) and "event" in doc:
                lines.append(doc)
    return lines


def digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def quiesce(path: Path) -> None:
    """Close every connection and fold the WAL into the file, so it is complete on its own."""
    bootstrap.reset()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextlib.contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make ``paths`` unwritable for this process. Root writes through permission bits, so as root the
    files are made immutable (``chattr +i``); where that is not possible the test is skipped, saying why."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("running as root without chattr: root writes through chmod, so no read-only store here")
    done: list[Path] = []
    try:
        for p in paths:
            if subprocess.run([chattr, "+i", str(p)], capture_output=True, check=False).returncode != 0:
                pytest.skip("running as root and chattr +i is refused here: no read-only store possible")
            done.append(p)
        yield
    finally:
        for p in reversed(done):
            subprocess.run([chattr, "-i", str(p)], capture_output=True, check=False)
