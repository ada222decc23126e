"""Pure helpers the deployment tests use: EventBridge pattern matching, timer expressions, RAM action names.

Nothing here runs in a function (``acrsync.build`` leaves this module out of the code packages) and nothing
does I/O: callers read the files and hand in text.

* ``pattern_matches(pattern, event)`` - the EventBridge event-pattern semantics (reference §1.5, the
  "Event patterns" page): the pattern mirrors the event's nesting, every leaf is an array of conditions,
  conditions in one array are OR-ed, keys are AND-ed; exact values, ``prefix``, ``suffix``, ``contains``,
  ``anything-but`` (a value, a list, or ``{"prefix"|"suffix": ...}``), ``numeric``, ``cidr`` (IPv4),
  ``exists`` and the empty string.
* ``timer_expression_problem(expr)`` - FC timer ``cronExpression``: ``@every <duration>`` or 6-field cron.
* ``ACR_RAM_ACTIONS`` / ``ots_ram_action`` and the ``ast`` scans of the adapters that say which APIs the
  code calls, so the RAM policy can be checked against the code instead of against a list kept by hand.
"""

from __future__ import annotations

import ast
import ipaddress
import re
from collections.abc import Iterable, Mapping
from typing import Any

# -- EventBridge event patterns ---------------------------------------------------------------------------

_OPERATORS = frozenset({"prefix", "suffix", "contains", "anything-but", "numeric", "cidr", "exists"})
_NUMERIC_OPS = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_MISSING = object()


def pattern_problems(pattern: Any, path: str = "") -> list[str]:
    """Why ``pattern`` is not a valid event pattern (empty when it is): objects all the way down to
    arrays of conditions; each condition a scalar or a one-key operator object."""
    if not isinstance(pattern, dict) or not pattern:
        return [f"{path or 'pattern'}: expected a non-empty JSON object"]
    problems: list[str] = []
    for key, value in pattern.items():
        where = f"{path}.{key}" if path else str(key)
        if isinstance(value, dict):
            problems += pattern_problems(value, where)
        elif not isinstance(value, list) or not value:
            problems.append(f"{where}: values must be a non-empty array (EventBridge wraps every condition)")
        else:
            problems += [p for cond in value for p in _condition_problems(cond, where)]
    return problems


def _condition_problems(cond: Any, where: str) -> list[str]:
    if not isinstance(cond, dict):
        return [] if cond is None or isinstance(cond, (str, int, float, bool)) else [f"{where}: bad value"]
    if len(cond) != 1 or next(iter(cond)) not in _OPERATORS:
        return [f"{where}: unknown operator {sorted(cond)} (known: {', '.join(sorted(_OPERATORS))})"]
    op, arg = next(iter(cond.items()))
    if op == "numeric" and (not isinstance(arg, list) or len(arg) % 2 or not arg):
        return [f"{where}: numeric takes [op, number, ...] pairs"]
    if op == "numeric" and any(o not in _NUMERIC_OPS for o in arg[::2]):
        return [f"{where}: numeric operators are {', '.join(_NUMERIC_OPS)}"]
    if op == "exists" and not isinstance(arg, bool):
        return [f"{where}: exists takes true or false"]
    return []


def pattern_matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """True when ``event`` (a parsed JSON object) matches the EventBridge ``pattern``.

    Raises ``ValueError`` for an invalid pattern, so a typo cannot pass as "matches nothing".
    """
    problems = pattern_problems(pattern)
    if problems:
        raise ValueError("invalid event pattern: " + "; ".join(problems))
    return _match_object(pattern, event)


def _match_object(pattern: Mapping[str, Any], event: Any) -> bool:
    if not isinstance(event, dict):
        return False
    for key, expected in pattern.items():
        actual = event.get(key, _MISSING)
        if isinstance(expected, dict):
            if not _match_object(expected, actual):
                return False
        elif not any(_match_condition(cond, actual) for cond in expected):
            return False
    return True


def _match_condition(cond: Any, actual: Any) -> bool:
    if isinstance(cond, dict) and next(iter(cond)) == "exists":
        return (actual is not _MISSING) is cond["exists"]
    if actual is _MISSING:
        return False
    if isinstance(actual, list):
        # An array in the event matches when any of its elements does.
        return any(_match_condition(cond, item) for item in actual)
    if not isinstance(cond, dict):
        return _same(cond, actual)
    op, arg = next(iter(cond.items()))
    return _match_operator(op, arg, actual)


def _same(expected: Any, actual: Any) -> bool:
    # Python's True == 1 must not leak in: JSON true and 1 are different values.
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


def _match_operator(op: str, arg: Any, actual: Any) -> bool:
    if op in ("prefix", "suffix", "contains"):
        if not isinstance(actual, str):
            return False
        return {"prefix": actual.startswith, "suffix": actual.endswith, "contains": actual.__contains__}[op](
            str(arg)
        )
    if op == "anything-but":
        return _anything_but(arg, actual)
    if op == "numeric":
        return _numeric(arg, actual)
    if op == "cidr":
        return _cidr(str(arg), actual)
    raise ValueError(f"unknown operator {op!r}")


def _anything_but(arg: Any, actual: Any) -> bool:
    if isinstance(arg, dict):
        ((sub_op, sub_arg),) = arg.items()
        return not _match_operator(sub_op, sub_arg, actual)
    excluded = arg if isinstance(arg, list) else [arg]
    return not any(_same(value, actual) for value in excluded)


def _numeric(arg: list[Any], actual: Any) -> bool:
    if isinstance(actual, bool) or not isinstance(actual, (int, float)):
        return False
    return all(_NUMERIC_OPS[op](actual, bound) for op, bound in zip(arg[::2], arg[1::2], strict=True))


def _cidr(block: str, actual: Any) -> bool:
    if not isinstance(actual, str):
        return False
    try:
        return ipaddress.IPv4Address(actual) in ipaddress.IPv4Network(block, strict=False)
    except ValueError:
        return False


# -- FC timer trigger expressions -------------------------------------------------------------------------

_EVERY_RE = re.compile(r"^@every ((?:\d+[hms])+)\Z")
_DURATION_PART_RE = re.compile(r"(\d+)([hms])")
_UNIT_S = {"h": 3600, "m": 60, "s": 1}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (name, low, high, names, extra characters allowed) - seconds minutes hours day-of-month month day-of-week
_CRON_FIELDS = (
    ("seconds", 0, 59, (), ""),
    ("minutes", 0, 59, (), ""),
    ("hours", 0, 23, (), ""),
    ("day-of-month", 1, 31, (), "?"),
    ("month", 1, 12, _MONTHS, ""),
    ("day-of-week", 0, 6, _DAYS, "?"),
)


def every_seconds(expr: str) -> int | None:
    """Seconds between runs of an ``@every 1h30m`` expression; None if it is not one."""
    match = _EVERY_RE.match(expr)
    if not match:
        return None
    return sum(int(n) * _UNIT_S[unit] for n, unit in _DURATION_PART_RE.findall(match.group(1)))


def timer_expression_problem(expr: str) -> str:
    """Why ``expr`` is not a valid FC timer ``cronExpression`` (``""`` when it is).

    FC 3.0 TimerTriggerConfig: ``@every 4m`` intervals or 6-field cron ``0 0 4 * * *`` (seconds first),
    optionally prefixed ``CRON_TZ=<zone>``.
    """
    if expr.startswith("@every"):
        seconds = every_seconds(expr)
        if seconds is None:
            return f"{expr!r}: expected '@every <N>h|m|s...' such as '@every 1m'"
        return "" if seconds > 0 else f"{expr!r}: the interval must be positive"
    body = expr.split(" ", 1)[1] if expr.startswith("CRON_TZ=") and " " in expr else expr
    fields = body.split()
    if len(fields) != len(_CRON_FIELDS):
        return f"{expr!r}: expected 6 cron fields (seconds minutes hours day-of-month month day-of-week)"
    for text, spec in zip(fields, _CRON_FIELDS, strict=True):
        problem = _cron_field_problem(text, spec)
        if problem:
            return f"{expr!r}: {problem}"
    return ""


def _cron_field_problem(text: str, spec: tuple[str, int, int, tuple[str, ...], str]) -> str:
    name, low, high, names, extra = spec
    if text in ("*", *extra):
        return ""
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and not step.isdigit():
            return f"{name}: bad step {step!r}"
        bounds = [] if base == "*" else base.split("-")
        if len(bounds) > 2 or (base != "*" and not all(bounds)):
            return f"{name}: bad range {base!r}"
        for bound in bounds:
            value = names.index(bound.upper()) + low if bound.upper() in names else None
            if value is None and not bound.isdigit():
                return f"{name}: {bound!r} is not a number"
            if not low <= (value if value is not None else int(bound)) <= high:
                return f"{name}: {bound} outside {low}..{high}"
    return ""


# -- RAM actions for the APIs the code calls --------------------------------------------------------------

# ACR OpenAPI action -> RAM action. Sources: reference §2.2 (the sync and repository APIs) and each API's own
# "Authorization information" table (GetRepoTag and ListRepoTag -> cr:ListRepositoryTag, GetInstance ->
# cr:GetInstance, GetNamespace -> cr:GetNamespace); deploy/README.md cites the pages.
ACR_RAM_ACTIONS: Mapping[str, str] = {
    "CreateRepoSyncTask": "cr:CreateRepositorySync",
    "GetRepoSyncTask": "cr:GetRepositorySync",
    "ListRepoSyncTask": "cr:GetRepositorySync",
    "GetRepository": "cr:GetRepository",
    "ListRepository": "cr:ListRepository",
    "GetRepoTag": "cr:ListRepositoryTag",
    "ListRepoTag": "cr:ListRepositoryTag",
    "GetInstance": "cr:GetInstance",
    "GetNamespace": "cr:GetNamespace",
    # help.aliyun.com/zh/acr/developer-reference/api-cr-2018-12-01-deleterepotag
    "DeleteRepoTag": "cr:DeleteRepositoryTag",
    # ⚠ by analogy with DeleteRepoTag (the CreateRepoTag page was not read): check before granting.
    "CreateRepoTag": "cr:CreateRepositoryTag",
    # copy destinations read the source through its registry (adapters/acr_registry_access.py)
    "ListInstanceEndpoint": "cr:ListInstanceEndpoint",
    "GetAuthorizationToken": "cr:GetAuthorizationToken",
    # custom replication links (adapters/acr_links.py); reference "ACR OpenAPI additions" and §2.2
    "CreateRepoSyncRule": "cr:CreateSyncRule",
    "ListRepoSyncRule": "cr:ListSyncRule",
    "CreateRepoSyncTaskByRule": "cr:CreateRepositorySync",
}

# OTSClient method -> Tablestore API (tablestore/client.py); the RAM action is the API name with "ots:".
OTS_METHODS: Mapping[str, str] = {
    "put_row": "PutRow",
    "get_row": "GetRow",
    "update_row": "UpdateRow",
    "delete_row": "DeleteRow",
    "get_range": "GetRange",
    "xget_range": "GetRange",
    "batch_get_row": "BatchGetRow",
    "batch_write_row": "BatchWriteRow",
    "create_table": "CreateTable",
    "describe_table": "DescribeTable",
    "list_table": "ListTable",
    "update_table": "UpdateTable",
    "delete_table": "DeleteTable",
    "search": "Search",
    "start_local_transaction": "StartLocalTransaction",
    "commit_transaction": "CommitTransaction",
    "abort_transaction": "AbortTransaction",
}
OTS_ADMIN_APIS = frozenset({"CreateTable", "DescribeTable", "ListTable", "UpdateTable", "DeleteTable"})

# WireRegistry methods whose first argument is the ACR action name.
_ACR_DISPATCH = frozenset({"_call", "_lookup", "_token_pages"})


def ots_ram_action(api: str) -> str:
    """``PutRow`` -> ``ots:PutRow`` (Tablestore's RAM actions are the API names)."""
    return f"ots:{api}"


def acr_actions_called(source: str) -> set[str]:
    """ACR actions named as string literals in the first argument of ``_call``/``_lookup``/``_token_pages``
    calls in ``source`` (the text of ``adapters/acr.py``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _ACR_DISPATCH
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def ots_apis_called(sources: Iterable[str]) -> set[str]:
    """Tablestore APIs the sources reach: ``<x>.client.put_row`` / ``client.list_table`` attribute uses
    (called, or passed to a wrapper) and string literals given as the op name to ``call("PutRow", ...)``."""
    found: set[str] = set()
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Attribute) and node.attr in OTS_METHODS and _names_client(node.value):
                found.add(OTS_METHODS[node.attr])
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "call"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and node.args[0].value in OTS_METHODS.values()
            ):
                found.add(str(node.args[0].value))
    return found


def _names_client(node: ast.expr) -> bool:
    """``client``, ``self._client``, ``ots_client``...: the receiver looks like an OTSClient."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return "client" in name.lower()


def policy_actions(policy: Mapping[str, Any]) -> set[str]:
    """Every action an Allow statement of a RAM policy document grants."""
    actions: set[str] = set()
    for statement in policy.get("Statement", []):
        if statement.get("Effect") == "Allow":
            value = statement.get("Action", [])
            actions.update([value] if isinstance(value, str) else value)
    return actions


# -- s.yaml expressions -----------------------------------------------------------------------------------

_EXPRESSION_RE = re.compile(r"\$\{([^}]*)\}")
_ENV_RE = re.compile(r"""^env\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\)\Z""")


def expressions_in(value: Any) -> list[str]:
    """Every ``${...}`` expression body in a loaded YAML value, in document order."""
    if isinstance(value, dict):
        return [e for v in value.values() for e in expressions_in(v)]
    if isinstance(value, list):
        return [e for v in value for e in expressions_in(v)]
    return _EXPRESSION_RE.findall(value) if isinstance(value, str) else []


def resolve_expressions(value: Any, variables: Mapping[str, Any], env: Mapping[str, str]) -> Any:
    """``value`` with ``${vars.x}`` replaced from ``variables`` and ``${env('X')}`` from ``env``; any other
    expression (or an unknown name) raises ``KeyError``, so a typo in s.yaml fails the tests."""
    if isinstance(value, dict):
        return {k: resolve_expressions(v, variables, env) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_expressions(v, variables, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        body = match.group(1).strip()
        env_name = _ENV_RE.match(body)
        if env_name:
            return env[env_name.group(1)]
        if body.startswith("vars."):
            return str(variables[body[len("vars.") :]])
        raise KeyError(f"unsupported s.yaml expression ${{{body}}}")

    return _EXPRESSION_RE.sub(one, value)
