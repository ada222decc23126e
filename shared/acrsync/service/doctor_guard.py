"""What ``doctor`` does when a check's own call fails: a FAIL row saying why and what to do, never a crash.

Each check (or group of rows) runs under ``guarded``: whatever it raises — a typed ACR error
(``Forbidden.RAM``, throttling, 5xx, a timeout), a store error, or something nobody expected — becomes one
FAIL row, and the checks after it still run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from acrsync.errors import AcrSyncError, RetryableError, StoreError
from acrsync.logging import get_logger

log = get_logger(__name__)

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
# Gateway codes meaning "these credentials are not accepted" (reference §2.2).
BAD_CREDENTIAL_PREFIXES = ("SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidSecurityToken")
DENIED_PREFIXES = ("NoPrivilege", "Forbidden")
RAM_FIX = (
    "attach deploy/ram-policy.json to the role (cr:GetInstance, cr:ListRepository, cr:GetNamespace, "
    "cr:GetRepository, cr:ListRepositoryTag, cr:CreateRepositorySync, cr:GetRepositorySync) for the instances"
)
TRANSIENT_FIX = (
    "transient (throttled, 5xx or timed out): run `acr-sync doctor` again; if it lasts, check "
    "ACRSYNC_REGION / ACRSYNC_ACR_ENDPOINT and the network"
)
MAX_DETAIL_CHARS = 500
UNEXPECTED_FIX = "unexpected: run `acr-sync --verbose doctor` for the traceback and report it"


@dataclass(frozen=True, slots=True)
class Check:
    """One result: ``status`` PASS, WARN or FAIL; ``fix`` says what to do when it is not PASS."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def __post_init__(self) -> None:
        # A detail may quote what the cloud answered (a filter pattern, a name): one row stays one row.
        for attr in ("name", "detail"):
            text = getattr(self, attr)
            if len(text) > MAX_DETAIL_CHARS:
                cut = f"{text[:MAX_DETAIL_CHARS]}… ({len(text):,} characters)"
                object.__setattr__(self, attr, cut)

    def as_dict(self) -> dict[str, str]:
        """JSON-able form."""
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def refused_credentials(exc: BaseException) -> bool:
    """True when ACR refused the credentials themselves (every further call would fail the same way)."""
    return str(getattr(exc, "code", "") or "").startswith(BAD_CREDENTIAL_PREFIXES)


def fix_for(exc: BaseException) -> str:
    """What to do about ``exc``, by its type and code."""
    code = str(getattr(exc, "code", "") or "")
    if isinstance(exc, StoreError):
        return exc.fix or "check ACRSYNC_STORE"
    if refused_credentials(exc):
        return "check the AK/SK"
    if code.startswith(DENIED_PREFIXES):
        return RAM_FIX
    if isinstance(exc, RetryableError):
        return TRANSIENT_FIX
    if isinstance(exc, AcrSyncError):
        return "see the detail"
    return UNEXPECTED_FIX


def describe(exc: BaseException) -> str:
    """``exc`` in one line: acr-sync's own errors by their message, anything else with its type."""
    if isinstance(exc, StoreError):
        return exc.problem
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, AcrSyncError) else f"{type(exc).__name__}: {text}"


def failure(name: str, what: str, exc: BaseException) -> Check:
    """The FAIL row for ``exc`` met while checking ``name`` (``what``: the context, if the error lacks it)."""
    text = describe(exc)
    return Check(name, FAIL, f"{what}: {text}" if what else text, fix_for(exc))


def guarded(name: str, what: str, checks: Callable[[], Iterable[Check]]) -> list[Check]:
    """The rows ``checks`` yields; if it raises, the rows so far plus one FAIL row for the error."""
    rows: list[Check] = []
    try:
        rows.extend(checks())
    except Exception as exc:
        if not isinstance(exc, AcrSyncError):
            log.warning("doctor_check_crashed", check=name, exc_info=True)
        rows.append(failure(name, what, exc))
    return rows
