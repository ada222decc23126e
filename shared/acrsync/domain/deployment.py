"""What ``s.yaml`` means: the functions, triggers and async configs a deployment should have. Pure.

``expected_functions(doc)`` takes the loaded YAML (Serverless Devs edition 3.0.0, component ``fc3``) and
resolves ``${vars.x}`` from its own ``vars``. ``${env('NAME')}`` is *not* resolved: only the names of
environment variables are ever compared, never their values, so a deployer's secrets are never read here.
Any other expression (``${resources.x.output...}``) stays unresolved and the field it sits in is not
compared (``UNRESOLVED``). Field names are fc3's, which are the FC 3.0 API's (devsapp/fc3
``src/interface/function.ts``, ``trigger.ts``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

UNRESOLVED = "<unresolved>"
_EXPR = re.compile(r"\$\{([^}]*)\}")
_ENV = re.compile(r"""^env\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\)\Z""")
# The attributes of a function the doctor compares, as GetFunction names them.
COMPARED = ("runtime", "handler", "memorySize", "timeout", "role")


@dataclass(frozen=True, slots=True)
class ExpectedTrigger:
    """A trigger as s.yaml declares it (``config`` is fc3's ``triggerConfig``, expressions resolved)."""

    name: str
    type: str
    config: Mapping[str, Any]
    qualifier: str = "LATEST"

    @property
    def pattern(self) -> Any:
        """The EventBridge filter pattern, parsed (s.yaml holds it as a JSON string); None if absent."""
        raw = self.config.get("eventRuleFilterPattern")
        return json.loads(raw) if isinstance(raw, str) and raw and UNRESOLVED not in raw else None


@dataclass(frozen=True, slots=True)
class ExpectedFunction:
    """A function as s.yaml declares it."""

    name: str
    attributes: Mapping[str, Any]
    env_names: frozenset[str]
    triggers: tuple[ExpectedTrigger, ...]
    async_config: Mapping[str, Any] | None = None
    resource: str = ""
    env_expressions: Mapping[str, str] = field(default_factory=dict)


def resolve(value: Any, variables: Mapping[str, Any]) -> Any:
    """``value`` with ``${vars.x}`` substituted; ``${env(..)}`` and other expressions: ``UNRESOLVED``."""
    if isinstance(value, dict):
        return {k: resolve(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, variables) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        body = match.group(1).strip()
        if body.startswith("vars.") and body[5:] in variables:
            return str(variables[body[5:]])
        return UNRESOLVED

    whole = _EXPR.fullmatch(value.strip())
    if whole and whole.group(1).strip().startswith("vars."):
        name = whole.group(1).strip()[5:]
        if name in variables and not isinstance(variables[name], str):
            return variables[name]  # keep numbers and booleans typed
    return _EXPR.sub(one, value)


def expected_functions(doc: Mapping[str, Any]) -> list[ExpectedFunction]:
    """Every fc3 resource of the document, in order. ``ValueError`` names what is malformed."""
    resources = doc.get("resources")
    if not isinstance(resources, dict) or not resources:
        raise ValueError("s.yaml: no `resources` mapping")
    variables = doc.get("vars") or {}
    found = []
    for key, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("component") != "fc3":
            continue
        raw_props = resource.get("props")
        if not isinstance(raw_props, dict) or not raw_props.get("functionName"):
            raise ValueError(f"s.yaml: resources.{key}.props.functionName is missing")
        env = raw_props.get("environmentVariables") or {}
        props = resolve(raw_props, variables)
        found.append(
            ExpectedFunction(
                name=str(props["functionName"]),
                attributes={k: props[k] for k in COMPARED if k in props},
                env_names=frozenset(str(k) for k in env),
                triggers=tuple(_trigger(t, key) for t in props.get("triggers") or []),
                async_config=props.get("asyncInvokeConfig"),
                resource=str(key),
                env_expressions={str(k): _env_source(v) for k, v in env.items()},
            )
        )
    return found


def _env_source(value: Any) -> str:
    """Where a variable's value comes from (``env(NAME)``, ``vars.x`` or ``literal``): never the value."""
    bodies = [b.strip() for b in _EXPR.findall(str(value))]
    if not bodies:
        return "literal"
    return ", ".join(f"env({env.group(1)})" if (env := _ENV.match(b)) else b for b in bodies)


def _trigger(raw: Any, resource: str) -> ExpectedTrigger:
    if not isinstance(raw, dict) or not raw.get("triggerName") or not raw.get("triggerType"):
        raise ValueError(
            f"s.yaml: resources.{resource}.props.triggers: each needs triggerName and triggerType"
        )
    return ExpectedTrigger(
        name=str(raw["triggerName"]),
        type=str(raw["triggerType"]),
        config=raw.get("triggerConfig") or {},
        qualifier=str(raw.get("qualifier") or "LATEST"),
    )


def invocation_mode(async_invocation_type: Any) -> str:
    """What ``asyncInvocationType`` means per the FC 3.0 API (2023-03-30) and its SDK: ``false`` (the
    default) = asynchronous, ``true`` = synchronous. deploy/README.md gives the evidence and the conflict
    with the FC 2.0 page; the doctor reports the EventBridge target's own setting when it can read it."""
    return "synchronous" if async_invocation_type is True else "asynchronous"


def rule_name_from_arn(source_arn: str) -> str:
    """The EventBridge rule of an FC EventBridge trigger, from its ``sourceArn``
    (``acs:eventbridge:REGION:ACCOUNT:eventbus/BUS/rule/NAME``); empty if the ARN has no rule part."""
    _, _, rest = source_arn.partition("/rule/")
    return rest.split("/", 1)[0]


def bus_from_arn(source_arn: str) -> str:
    """The bus of that ARN (``default`` for Alibaba Cloud service events)."""
    _, _, rest = source_arn.partition(":eventbus/")
    return rest.split("/", 1)[0] or "default"
