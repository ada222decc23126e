"""``doctor`` checks for copy destinations (``registry:`` in the rules): credentials set and accepted.

One read per registry and credentials: ``HEAD`` of a manifest under the destination namespace, which makes
the registry challenge, the token service check the credentials and grant a pull token (404 = all good).
Push rights are proven by the first copy (doctor writes nothing). Custom links (``link:``) are checked by
``doctor_links`` as far as ACR's API allows (no action lists links).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from acrsync.domain.oci import parse_registry_target
from acrsync.errors import AcrSyncError, RetryableError

PROBE_REPO = "acrsync-doctor"


def registry_checks(
    enabled: list[Any], registries: Callable[[str, str], Any], check: Callable[..., Any]
) -> Iterator[Any]:
    """One check per distinct (registry, credentials_env) of the enabled rules' copy destinations."""
    seen: set[tuple[str, str]] = set()
    try:
        for rule in enabled:
            for dest in rule.destinations:
                key = (dest.registry, dest.credentials_env)
                if not dest.registry or key in seen:
                    continue
                seen.add(key)
                yield _probe(key, registries, check)
    finally:
        close = getattr(registries, "close", None)
        if close is not None:
            close()  # doctor is a one-shot: leave no connection open


def _probe(key: tuple[str, str], registries: Callable[[str, str], Any], check: Callable[..., Any]) -> Any:
    target_text, env = key
    name = f"registry {target_text}"
    target = parse_registry_target(target_text)
    try:
        client = registries(target_text, env)
        client.head_manifest(target.repository(PROBE_REPO), "probe")
    except RetryableError as exc:  # unreachable (DNS, refused, timeout, 5xx): not a credentials problem
        fix = f"check that {target.host} resolves and is reachable from here, then run doctor again"
        return check(name, "FAIL", str(exc), fix)
    except AcrSyncError as exc:
        fix = (
            f"set {env} to USERNAME:PASSWORD of an account that may push to {target_text}"
            if env
            else f"name a credentials_env for {target_text} (USERNAME:PASSWORD in that variable)"
        )
        return check(name, "FAIL", str(exc), fix)
    detail = "reachable, credentials accepted (pull); push is proven by the first copy"
    return check(name, "PASS", detail + (f" [{env}]" if env else " [anonymous]"))
