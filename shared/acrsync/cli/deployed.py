"""``doctor --deployed``: load s.yaml (names a missing or malformed file precisely) and run the checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from acrsync import bootstrap
from acrsync.errors import ConfigError
from acrsync.service.deployed_doctor import run_deployed_checks
from acrsync.service.doctor import Check


def load_s_yaml(path: Path) -> dict[str, Any]:
    """The parsed file, or a ``ConfigError`` that says which file and what to do."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: not found; run from the project directory or pass --s-yaml PATH"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a Serverless Devs document (a mapping with `resources`)")
    return doc


def deployed_checks(path: Path) -> list[Check]:
    """Every deployed check for the s.yaml at ``path``."""
    doc = load_s_yaml(path)
    try:
        deps = bootstrap.deployed_doctor_deps(doc)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return run_deployed_checks(deps)
