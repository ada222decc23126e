"""Copy jobs (``registry:`` destinations): the copier's use case, its launcher, the source and destination
registry clients, and the canary that pushes through them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from acrsync.bootstrap import core
from acrsync.bootstrap.acr_clients import registry
from acrsync.bootstrap.core import clock, close_copy_clients, rules_cache, settings, stores
from acrsync.errors import InvalidEvent
from acrsync.logging import get_logger, secrets_in
from acrsync.ports import CopyLauncher

if TYPE_CHECKING:  # each function instance imports only the use case it runs (cold start)
    from acrsync.service.copy_jobs import CopyDeps

log = get_logger(__name__)


COPIER_FUNCTION_ENV = "ACRSYNC_COPIER_FUNCTION"  # the copier's FC function name; unset: copy in-process


def copy_deps(context: Any = None) -> CopyDeps:
    """Launcher, source (ACR EE) and destination registry clients; built once, clients on first use."""
    if "copies" not in core._cache:
        from acrsync.service.copy_jobs import CopyDeps

        # Adapters are built on first use: a replicator whose rules copy nothing never imports them.
        core._cache["copies"] = CopyDeps(
            ledger=stores(context).ledger,
            clock=clock(),
            launcher=_LazyLauncher(lambda: _copy_launcher(context)),
            source=_LazySource(context),
            destination=destination_clients(),
        )
    result: CopyDeps = core._cache["copies"]
    return result


class _LazyLauncher(CopyLauncher):
    def __init__(self, build: Callable[[], CopyLauncher]) -> None:
        self._build = build
        self._real: CopyLauncher | None = None

    def launch(self, claim_id: str) -> None:
        if self._real is None:
            self._real = self._build()
        self._real.launch(claim_id)


class _LazySource:
    """``(instance, region) -> RegistryClient`` for ACR EE sources, built on the first copy."""

    def __init__(self, context: Any) -> None:
        self._context = context
        self._real: Any = None

    def __call__(self, instance_id: str, region: str) -> Any:
        if self._real is None:
            from acrsync.adapters.acr_registry_access import AcrRegistryClients

            self._real = AcrRegistryClients(registry(self._context))
        return self._real(instance_id, region)

    def close(self) -> None:
        if self._real is not None:
            self._real.close()


def _copy_launcher(context: Any) -> Any:
    from acrsync.adapters.copy_launcher import FcCopyLauncher, InProcessCopyLauncher, build_fc_client

    environ = core.current_environ()
    function = environ.get(COPIER_FUNCTION_ENV, "")
    if not function:  # local runs and tests: the copier's use case, in this process
        return InProcessCopyLauncher(lambda event: copier_handle(event, context))
    cfg = settings(context)
    creds = cfg.credentials
    account = environ.get("FC_ACCOUNT_ID", "") or next(iter(sorted(cfg.allowed_account_ids)), "")
    return FcCopyLauncher(
        lambda: build_fc_client(
            cfg.region,
            account,
            access_key_id=creds.access_key_id,
            access_key_secret=creds.access_key_secret,
            security_token=creds.security_token,
        ),
        function,
    )


def destination_clients() -> Callable[[str, str], Any]:
    """``(registry, credentials_env) -> RegistryClient``; the password is read here, never stored."""
    clients: dict[tuple[str, str], Any] = {}

    class Build:
        def __call__(self, target_text: str, credentials_env: str) -> Any:
            return build(target_text, credentials_env)

        def close(self) -> None:
            for client in list(clients.values()):
                client.close()

    def build(target_text: str, credentials_env: str) -> Any:
        from acrsync.adapters.oci_http import RegistryCredentials
        from acrsync.adapters.oci_registry import HttpRegistryClient
        from acrsync.domain.oci import parse_registry_target
        from acrsync.domain.rules_schema import REGISTRY_ENV_PREFIX, REGISTRY_ENV_RE
        from acrsync.errors import UpstreamRejected

        key = (target_text, credentials_env)
        if key not in clients:
            target = parse_registry_target(target_text)
            creds = None
            if credentials_env and not REGISTRY_ENV_RE.fullmatch(credentials_env):
                # Rules stored before the prefix rule: never read (and so never send) another variable.
                raise UpstreamRejected(
                    f"credentials_env {credentials_env[:64]} is not an {REGISTRY_ENV_PREFIX}* variable: "
                    "rename it and re-apply the rules",
                    code="CREDENTIALS_REFUSED",
                )
            if credentials_env:
                value = core.current_environ().get(credentials_env, "")
                if not value:
                    raise UpstreamRejected(
                        f"credentials_env {credentials_env} is not set in the function's environment "
                        f"(USERNAME:PASSWORD for {target.host})",
                        code="CREDENTIALS_MISSING",
                    )
                creds = RegistryCredentials.parse(value, source=credentials_env)
                secrets_in([creds.password, value])  # the whole value too: base64 of it is the Basic header
            clients[key] = HttpRegistryClient(target.base_url, credentials=creds)
        return clients[key]

    return Build()


def copier_handle(event: bytes, context: Any = None) -> dict[str, Any]:
    """The copier's work for one event ``{"claim_id": ...}``: what ``functions/copier/handler.py`` runs."""
    from acrsync.domain.copies import parse_copy_event
    from acrsync.service.copy_jobs import run

    try:
        claim_id = parse_copy_event(event)
    except InvalidEvent as exc:  # the same bytes fail every retry: refuse, never raise into FC's retries
        reason = f"{exc.reason}: {exc}"
        log.warning("copy_event_refused", reason=exc.reason, error=str(exc))
        return {"status": "refused", "reason": reason}
    deps = copy_deps(context)
    try:
        outcome = run(claim_id, deps)
    finally:
        close_copy_clients()
    log.info("copy_handled", claim_id=claim_id, outcome=outcome)  # the copier's one summary per invocation
    return {"status": "ok", "claim_id": claim_id, "outcome": outcome}


def canary_deps(context: Any = None) -> Any:
    """What ``acr-sync canary`` needs: the ledger, the rules, and registry clients to push and clean up."""
    from acrsync.service.canary import CanaryDeps

    copies = copy_deps(context)
    return CanaryDeps(
        ledger=stores(context).ledger,
        clock=clock(),
        rules=rules_cache(context).index,
        acr=copies.source,
        registry=copies.destination,
    )
