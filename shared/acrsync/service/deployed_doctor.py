"""``acr-sync doctor --deployed``: the deployment in the cloud against what ``s.yaml`` meant.

Per function of s.yaml (FC 3.0 API): it exists with the expected runtime, handler, memory, timeout and role;
its environment variable *names* are the ones s.yaml sets and ``config.KNOWN_VARIABLES`` knows (values are
never read into a result); its async config; each trigger exists, is enabled, and has the expected schedule
or filter pattern and invocation mode. Per EventBridge trigger (EventBridge API): its rule on the ``default``
bus exists, is ENABLE, has the pattern and targets the function; the mode the target really invokes with is
reported. Per source instance (ACR): built-in PASSIVE (automatic) sync rules that would replicate what an
acr-sync rule replicates to the same place. Each check catches its own failure: one broken API never hides
the others' results.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from acrsync.domain.deployment import (
    UNRESOLVED,
    ExpectedFunction,
    ExpectedTrigger,
    bus_from_arn,
    invocation_mode,
    rule_name_from_arn,
)
from acrsync.domain.rules_compile import CompiledRule
from acrsync.errors import AcrSyncError, StoreError, StoreNotSetUp
from acrsync.logging import get_logger
from acrsync.ports import EventRulesApi, FunctionsApi, SyncRulesApi
from acrsync.service.doctor import FAIL, PASS, WARN, Check
from acrsync.service.doctor_guard import failure
from acrsync.service.sync_rule_overlap import overlaps

log = get_logger(__name__)

REDEPLOY = "run `s deploy -y` from the directory holding s.yaml (-y: no prompt when the cloud differs)"


@dataclass(frozen=True)
class DeployedDeps:
    """What the deployed checks read; the bootstrap builds SDK-backed ones, tests the same over stand-ins."""

    expected: Sequence[ExpectedFunction]
    functions: FunctionsApi
    rules: EventRulesApi
    sync_rules: SyncRulesApi
    known_variables: frozenset[str]
    acr_rules: Callable[[], Sequence[CompiledRule]]
    source_instances: Sequence[str] = ()
    # (channel, note) of ledger rows whose alert DingTalk refused ("DingTalk refused: CODE"), recent first.
    alert_refusals: Callable[[], Sequence[tuple[str, str]]] = lambda: ()


def run_deployed_checks(deps: DeployedDeps) -> list[Check]:
    """Every check, in s.yaml order, then the ACR overlap checks."""
    checks: list[Check] = []
    for function in deps.expected:
        checks.extend(_guarded(f"function {function.name}", _bind(deps, function)))
    checks.extend(_guarded("built-in sync rules", lambda: overlaps(deps)))
    checks.extend(_guarded("alert delivery", lambda: _alert_delivery(deps)))
    log.info("doctor_deployed_finished", failed=sum(c.status == FAIL for c in checks), checks=len(checks))
    return checks


def _bind(deps: DeployedDeps, function: ExpectedFunction) -> Callable[[], Iterator[Check]]:
    return lambda: _function(deps, function)


def _guarded(name: str, run: Callable[[], Iterator[Check]]) -> list[Check]:
    found: list[Check] = []
    try:
        found.extend(run())
    except AcrSyncError as exc:
        fix = exc.fix if isinstance(exc, StoreError) else "check credentials, region and endpoints"
        found.append(Check(name, FAIL, f"cannot read it: {exc}", fix))
    except Exception as exc:  # what the cloud answered broke a check: one FAIL row, not the table
        log.info("doctor_check_crashed", check=name, exc_info=True)
        found.append(failure(name, "cannot check it", exc))
    return found


def _function(deps: DeployedDeps, expected: ExpectedFunction) -> Iterator[Check]:
    name = f"function {expected.name}"
    deployed = deps.functions.get_function(expected.name)
    if deployed is None:
        yield Check(name, FAIL, "not deployed (GetFunction: no such function)", REDEPLOY)
        return
    diffs = [
        f"{key}: s.yaml {want!r}, deployed {deployed.get(key)!r}"
        for key, want in expected.attributes.items()
        if want != UNRESOLVED and deployed.get(key) != want
    ]
    if diffs:
        yield Check(name, FAIL, "; ".join(diffs), REDEPLOY)
    else:
        shown = ", ".join(f"{k} {v}" for k, v in expected.attributes.items() if k != "role")
        yield Check(name, PASS, shown + (", role as s.yaml" if "role" in expected.attributes else ""))
    yield _environment(deps, expected, deployed.get("environmentVariables") or {})
    if expected.async_config is not None:
        yield _async_config(deps, expected)
    triggers = {t.get("triggerName"): t for t in deps.functions.list_triggers(expected.name)}
    for trigger in expected.triggers:
        yield from _trigger(deps, expected, trigger, triggers.get(trigger.name))


def _environment(deps: DeployedDeps, expected: ExpectedFunction, deployed: Mapping[str, Any]) -> Check:
    """Names only: the values (webhook tokens, secrets) are never copied into the result."""
    name = f"environment {expected.name}"
    names = set(deployed)
    missing = sorted(expected.env_names - names)
    unknown = sorted(n for n in names if n not in deps.known_variables)
    extra = sorted(names - expected.env_names - set(unknown))
    problems = []
    if missing:
        sources = [f"{n} (s.yaml: {expected.env_expressions.get(n, 'literal')})" for n in missing]
        problems.append(f"missing {', '.join(sources)}")
    if unknown:
        problems.append(f"unknown to acr-sync (typo?): {', '.join(unknown)}")
    if problems:
        fix = REDEPLOY + "; a name from env(NAME) must be exported in the shell that runs it"
        return Check(name, FAIL, "; ".join(problems) + " (values not shown)", fix)
    if extra:
        fix = "add them to s.yaml or remove them in the FC console"
        return Check(name, WARN, f"set in the cloud but not in s.yaml: {', '.join(extra)}", fix)
    return Check(name, PASS, f"{len(names)} variables, names as s.yaml (values not shown)")


def _async_config(deps: DeployedDeps, expected: ExpectedFunction) -> Check:
    name = f"async config {expected.name}"
    deployed = deps.functions.get_async_invoke_config(expected.name)
    if deployed is None:
        return Check(name, FAIL, "none deployed: FC's defaults (3 retries, 1 day) apply", REDEPLOY)
    want = expected.async_config or {}
    diffs = [
        f"{key}: s.yaml {want[key]!r}, deployed {deployed.get(key)!r}"
        for key in ("maxAsyncRetryAttempts", "maxAsyncEventAgeInSeconds")
        if key in want and deployed.get(key) != want[key]
    ]
    failure = _on_failure(want)
    if failure and failure != UNRESOLVED and _on_failure(deployed) != failure:
        diffs.append(f"onFailure destination: s.yaml {failure}, deployed {_on_failure(deployed) or 'none'}")
    if diffs:
        return Check(name, FAIL, "; ".join(diffs), REDEPLOY)
    detail = ", ".join(
        f"{k} {deployed.get(k)}" for k in ("maxAsyncRetryAttempts", "maxAsyncEventAgeInSeconds")
    )
    return Check(name, PASS, detail + (", failure destination set" if failure else ""))


def _on_failure(config: Mapping[str, Any]) -> str:
    dest = ((config.get("destinationConfig") or {}).get("onFailure") or {}).get("destination")
    return str(dest or "")


def _trigger(
    deps: DeployedDeps,
    function: ExpectedFunction,
    expected: ExpectedTrigger,
    deployed: Mapping[str, Any] | None,
) -> Iterator[Check]:
    name = f"trigger {function.name}/{expected.name}"
    if deployed is None:
        yield Check(name, FAIL, f"missing ({expected.type} trigger of s.yaml)", REDEPLOY)
        return
    config = deployed.get("triggerConfig") or {}
    if deployed.get("triggerType") != expected.type:
        yield Check(name, FAIL, f"type {deployed.get('triggerType')}, s.yaml {expected.type}", REDEPLOY)
        return
    if expected.type == "timer":
        yield _timer(name, expected.config, config)
    elif expected.type == "eventbridge":
        yield _eb_trigger(name, expected, config)
        yield from _eb_rule(deps, function, expected, deployed)


def _timer(name: str, want: Mapping[str, Any], got: Mapping[str, Any]) -> Check:
    if got.get("enable") is False:
        return Check(name, FAIL, "disabled: the sweep does not run", REDEPLOY)
    diffs = [
        f"{key}: s.yaml {want[key]!r}, deployed {got.get(key)!r}"
        for key in ("cronExpression", "payload")
        if key in want and got.get(key) != want[key]
    ]
    if diffs:
        return Check(name, FAIL, "; ".join(diffs), REDEPLOY)
    return Check(name, PASS, f"enabled, {got.get('cronExpression')}")


def _same_pattern(a: Any, b: Any) -> bool:
    try:
        parsed = [json.loads(x) if isinstance(x, str) else x for x in (a, b)]
    except (ValueError, RecursionError):  # the cloud's copy may be anything: it then differs
        return False
    return bool(parsed[0] == parsed[1])


def _eb_trigger(name: str, expected: ExpectedTrigger, got: Mapping[str, Any]) -> Check:
    if got.get("triggerEnable") is False:
        return Check(name, FAIL, "disabled (triggerEnable false): events are not delivered", REDEPLOY)
    want_pattern = expected.config.get("eventRuleFilterPattern")
    if want_pattern and not _same_pattern(want_pattern, got.get("eventRuleFilterPattern")):
        return Check(
            name, FAIL, f"filter pattern differs: deployed {got.get('eventRuleFilterPattern')}", REDEPLOY
        )
    want_async = expected.config.get("asyncInvocationType")
    if want_async is not None and got.get("asyncInvocationType") != want_async:
        detail = (
            f"asyncInvocationType {_spelled(got.get('asyncInvocationType'))}, s.yaml {_spelled(want_async)}"
        )
        return Check(name, FAIL, detail, REDEPLOY)
    return Check(
        name,
        PASS,
        f"enabled, pattern as s.yaml, asyncInvocationType {_spelled(got.get('asyncInvocationType'))}",
    )


def _spelled(value: object) -> str:
    """A value as s.yaml and the API spell it: ``false``, not Python's ``False``."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _eb_rule(
    deps: DeployedDeps, function: ExpectedFunction, expected: ExpectedTrigger, deployed: Mapping[str, Any]
) -> Iterator[Check]:
    arn = str(deployed.get("sourceArn") or "")
    rule_name = rule_name_from_arn(arn)
    name = f"eventbridge rule {function.name}/{expected.name}"
    if not rule_name:
        yield Check(name, WARN, f"the trigger names no rule (sourceArn {arn or 'empty'}): not checked")
        return
    bus = bus_from_arn(arn)
    rule = deps.rules.get_rule(bus, rule_name)
    if rule is None:
        yield Check(name, FAIL, f"rule {rule_name} missing on bus {bus}: no events arrive", REDEPLOY)
        return
    if rule.get("Status") != "ENABLE":
        fix = f"EventBridge console → bus {bus} → rule {rule_name} → Enable (or {REDEPLOY})"
        yield Check(name, FAIL, f"rule {rule_name} is {rule.get('Status')}: no events arrive", fix)
    elif not _same_pattern(expected.config.get("eventRuleFilterPattern"), rule.get("FilterPattern")):
        yield Check(name, FAIL, f"rule {rule_name} pattern differs: {rule.get('FilterPattern')}", REDEPLOY)
    targets = [
        t for t in rule.get("Targets") or [] if str(t.get("Endpoint", "")).endswith(f"/{function.name}")
    ]
    if not targets:
        yield Check(name, FAIL, f"rule {rule_name} does not target function {function.name}", REDEPLOY)
        return
    if rule.get("Status") == "ENABLE" and _same_pattern(
        expected.config.get("eventRuleFilterPattern"), rule.get("FilterPattern")
    ):
        yield Check(name, PASS, f"rule {rule_name} on {bus}: ENABLE, pattern as s.yaml, targets the function")
    yield _mode(function, expected, deployed, targets[0])


def _mode(
    function: ExpectedFunction,
    expected: ExpectedTrigger,
    deployed: Mapping[str, Any],
    target: Mapping[str, Any],
) -> Check:
    """The mode the target really invokes with (its ``InvocationType`` parameter when it has one), else what
    the trigger's flag means per the FC 3.0 API. Synchronous means asyncInvokeConfig does not apply."""
    name = f"invocation mode {function.name}/{expected.name}"
    flag = (deployed.get("triggerConfig") or {}).get("asyncInvocationType")
    params = {p.get("ResourceKey"): p.get("Value") for p in target.get("ParamList") or []}
    seen = params.get("InvocationType")
    if seen in ("Async", "Sync"):
        mode, source = ("asynchronous" if seen == "Async" else "synchronous"), f"target InvocationType={seen}"
    else:
        mode, source = invocation_mode(flag), f"asyncInvocationType={_spelled(flag)} read per the FC 3.0 API"
    detail = f"{mode} ({source}; trigger asyncInvocationType={_spelled(flag)})"
    if mode == "asynchronous":
        return Check(name, PASS, detail)
    fix = "flip asyncInvocationType in s.yaml and `s deploy -y`; see deploy/README.md (invocation mode)"
    return Check(name, FAIL, detail + ": FC's async retries and failure destination do not apply", fix)


# The access token does not exist: 300005 in current DingTalk answers, 400101 / 300001 in older tables.
TOKEN_MISSING = frozenset({"300005", "400101", "300001"})


def _alert_delivery(deps: DeployedDeps) -> Iterator[Check]:
    """Alerts DingTalk refused, as the alert flush recorded them on the rows: a permanent misconfiguration
    (no retry fixes it), so it is reported here rather than only logged."""
    by_channel: dict[str, set[str]] = {}
    try:
        refusals = list(deps.alert_refusals())
    except StoreNotSetUp as exc:  # deployed before `rules apply`: nothing was ever alerted, nothing to read
        yield Check("alert delivery", WARN, "the store is not set up yet: no alert history to read", exc.fix)
        return
    for channel, note in refusals:
        code = note.removeprefix("DingTalk refused:").strip()
        by_channel.setdefault(channel or "default", set()).add(code)
    if not by_channel:
        yield Check("alert delivery", PASS, "no alert refused by DingTalk in the ledger")
        return
    for channel, codes in sorted(by_channel.items()):
        name = f"alert delivery {channel}"
        if codes & TOKEN_MISSING:
            fix = "the webhook's access_token does not exist: copy the robot's webhook URL again"
        else:
            fix = "check the robot's secret, keywords and IP list; `acr-sync doctor --send-test-alert`"
        yield Check(name, FAIL, f"DingTalk refused alerts with errcode {', '.join(sorted(codes))}", fix)
