"""A "deployed" cloud derived from ``s.yaml``: what FC and EventBridge would hold after ``s deploy``.

``deploy(doc, ...)`` fills an ``FcState`` and an ``EventBridgeState`` as the fc3 component and FC would: each
function with its attributes and environment (values filled from ``env_values``, or a placeholder), each
trigger with its config (``triggerConfig`` as a JSON string, as the API returns it), the async config, and
for each EventBridge trigger a rule on the ``default`` bus targeting the function. Tests then introduce drift
(a missing trigger, a disabled rule, a changed pattern, an extra variable) and ``doctor --deployed`` must
say so. ⚠ Assumed, to be checked on the first real deploy (deploy/README.md): the rule FC creates is named
``<function>-<trigger>`` and the trigger's ``sourceArn`` is ``acs:eventbridge:REGION:ACCOUNT:eventbus/
default/rule/NAME``; the target carries the invocation type as ``ParamList`` key ``InvocationType``
(``Async``/``Sync``). The doctor reads whatever the real ones are; only this stand-in picks these.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from acrsync.domain.deployment import UNRESOLVED, ExpectedFunction, expected_functions, invocation_mode
from acrsync.local.eventbridge_api import EventBridgeState
from acrsync.local.fc_api import FcState

PLACEHOLDER_VALUE = "deployed-value"


def deploy(
    doc: Mapping[str, Any],
    *,
    region: str,
    account: str,
    env_values: Mapping[str, str] | None = None,
    fc: FcState | None = None,
    eventbridge: EventBridgeState | None = None,
) -> tuple[FcState, EventBridgeState]:
    """The clouds after deploying ``doc`` (an ``s.yaml`` loaded with PyYAML)."""
    fc = fc or FcState()
    eventbridge = eventbridge or EventBridgeState()
    for function in expected_functions(doc):
        _deploy_function(function, region, account, env_values or {}, fc, eventbridge)
    return fc, eventbridge


def _deploy_function(  # noqa: PLR0917 - one private step of deploy()
    function: ExpectedFunction,
    region: str,
    account: str,
    env_values: Mapping[str, str],
    fc: FcState,
    eventbridge: EventBridgeState,
) -> None:
    arn = f"acs:fc:{region}:{account}:functions/{function.name}"
    fc.functions[function.name] = {
        "functionName": function.name,
        "functionArn": arn,
        **{k: v for k, v in function.attributes.items() if v != UNRESOLVED},
        "environmentVariables": {
            name: env_values.get(name, PLACEHOLDER_VALUE) for name in function.env_names
        },
        "state": "Active",
    }
    if function.async_config is not None:
        fc.async_configs[function.name] = {"functionArn": arn, **function.async_config}
    triggers = fc.triggers.setdefault(function.name, {})
    for trigger in function.triggers:
        body: dict[str, Any] = {
            "triggerName": trigger.name,
            "triggerType": trigger.type,
            "qualifier": trigger.qualifier,
            "triggerConfig": json.dumps(trigger.config),
            "status": "Ready",
            "targetArn": arn,
        }
        if trigger.type == "eventbridge":
            rule = f"{function.name}-{trigger.name}"
            body["sourceArn"] = f"acs:eventbridge:{region}:{account}:eventbus/default/rule/{rule}"
            eventbridge.rules["default"][rule] = _rule(rule, trigger.config, arn, function.name)
        triggers[trigger.name] = body


def _rule(name: str, config: Mapping[str, Any], function_arn: str, function: str) -> dict[str, Any]:
    mode = invocation_mode(config.get("asyncInvocationType"))
    return {
        "RuleName": name,
        "EventBusName": "default",
        "FilterPattern": str(config.get("eventRuleFilterPattern") or "{}"),
        "Status": "ENABLE" if config.get("triggerEnable", True) else "DISABLE",
        "RuleARN": f"acs:eventbridge:::eventbus/default/rule/{name}",
        "Targets": [
            {
                "Id": f"fc-{function}",
                "Type": "acs.fc.function",
                "Endpoint": function_arn,
                "PushRetryStrategy": "BACKOFF_RETRY",
                "ParamList": [
                    {"ResourceKey": "functionName", "Form": "CONSTANT", "Value": function},
                    {"ResourceKey": "Body", "Form": "ORIGINAL", "Value": ""},
                    {
                        "ResourceKey": "InvocationType",
                        "Form": "CONSTANT",
                        "Value": "Async" if mode == "asynchronous" else "Sync",
                    },
                ],
            }
        ],
    }
