"""Run a handler as FC 3.0 would: the event as bytes, and a context object shaped like python3.10's.

Reference §3.2: ``context.request_id``, ``context.function.{name,handler,memory,timeout}``,
``context.credentials.{access_key_id,access_key_secret,security_token}``, ``context.region``,
``context.account_id``.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FUNCTIONS_DIR = Path(__file__).resolve().parents[3] / "functions"
FUNCTION_NAMES = ("replicator", "watcher", "reconciler", "copier")
# Function settings mirrored from s.yaml (the deployment tests check they agree).
TIMEOUTS_S = {"replicator": 60, "watcher": 120, "reconciler": 300, "copier": 3600}


@dataclass(frozen=True, slots=True)
class FcCredentials:
    """``context.credentials`` (STS from the function role)."""

    access_key_id: str = field(repr=False, default="")
    access_key_secret: str = field(repr=False, default="")
    security_token: str = field(repr=False, default="")


@dataclass(frozen=True, slots=True)
class FcFunction:
    """``context.function``."""

    name: str
    handler: str = "handler.handler"
    memory: int = 256
    timeout: int = 60


@dataclass(frozen=True, slots=True)
class FcContext:
    """The python3.10 runtime's ``context``."""

    request_id: str
    function: FcFunction
    credentials: FcCredentials
    region: str = ""
    account_id: str = ""


def make_context(function: str, environ: Mapping[str, str]) -> FcContext:
    """A fresh context for one invocation of ``acr-sync-<function>``."""
    return FcContext(
        request_id=str(uuid.uuid4()),
        function=FcFunction(name=f"acr-sync-{function}", timeout=TIMEOUTS_S.get(function, 60)),
        credentials=FcCredentials(
            environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID", ""),
            environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", ""),
            environ.get("ALIBABA_CLOUD_SECURITY_TOKEN", ""),
        ),
        region=environ.get("ACRSYNC_REGION", ""),
        account_id=environ.get("FC_ACCOUNT_ID", ""),
    )


_loaded: dict[str, Callable[[bytes, Any], dict[str, Any]]] = {}


def load_handler(function: str) -> Callable[[bytes, Any], dict[str, Any]]:
    """Import ``functions/<function>/handler.py`` by path (both files are named handler.py, as FC wants)."""
    if function not in FUNCTION_NAMES:
        raise ValueError(f"unknown function {function!r}: expected one of {', '.join(FUNCTION_NAMES)}")
    if function not in _loaded:
        path = FUNCTIONS_DIR / function / "handler.py"
        spec = importlib.util.spec_from_file_location(f"acrsync_fc_{function}_handler", path)
        if spec is None or spec.loader is None:
            raise FileNotFoundError(f"{path}: handler not found (run from a checkout of acr-sync)")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _loaded[function] = module.handler
    return _loaded[function]


def invoke(function: str, event: bytes, environ: Mapping[str, str]) -> dict[str, Any]:
    """Call the handler exactly as FC does: ``handler(event_bytes, context)``."""
    return load_handler(function)(event, make_context(function, environ))
