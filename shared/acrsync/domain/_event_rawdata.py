"""Bodies with no CloudEvents envelope (EventBridge's ``RawData`` schema): refused unless configured. Pure.

Private to ``acrsync.domain.events``: import ``RawDataPolicy`` from there.

With ``eventSchema: RawData`` (reference §3.3) the function receives the ``data`` object alone: no ``source``
and no ``aliyunaccountid`` to check, so anyone able to invoke the function could name any image. s.yaml
delivers ``CloudEvents``; a deployment that switches a trigger to RawData says so with ``RawDataPolicy``
(``ACRSYNC_ACCEPT_RAWDATA=true``), and every check that can still be made is made:

* envelope attributes found inside the data object (``aliyunaccountid``, ``source``) are held to the same
  rules as in an envelope: an account outside the allowed list or a source other than ``acs.cr`` refuses it;
* the image's region must be the function's own (``region``, when known): EventBridge's default bus carries
  the events of its own region only, so a data object naming another region did not come from there.

The instance is checked downstream: only instances some rule names as a source lead to a sync task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from acrsync.domain import _event_fields as ef
from acrsync.domain._event_fields import Fields
from acrsync.errors import InvalidEvent

R_RAW_DATA_REFUSED: Final = "raw_data_refused"
R_FOREIGN_REGION: Final = "foreign_region"


@dataclass(frozen=True, slots=True)
class RawDataPolicy:
    """Whether envelope-less bodies are accepted, and the region they must name (``""``: not checked)."""

    accept: bool = False
    region: str = ""


REFUSE_RAW_DATA: Final = RawDataPolicy()


def admit_raw_data(
    fields: Fields, policy: RawDataPolicy, allowed_accounts: frozenset[str], where: str
) -> str:
    """Refuse a data-only body unless ``policy.accept``; check the envelope attributes it carries.

    Returns the data-level ``aliyunaccountid`` when there is one (``""`` otherwise).
    """
    if not policy.accept:
        raise ef.fail(
            where.rstrip("."),
            R_RAW_DATA_REFUSED,
            "the body is a bare data object with no CloudEvents envelope (RawData schema): its source and "
            "account cannot be checked, so it is refused; deliver CloudEvents (eventSchema: CloudEvents), "
            "or accept RawData explicitly (ACRSYNC_ACCEPT_RAWDATA=true)",
        )
    source = fields.get(("source",))
    if source is not None and source[1] != ef.ACR_SOURCE:
        field = fields.where(source[0])
        raise ef.fail(field, ef.R_FOREIGN_SOURCE, f"{field} {ef.excerpt(source[1])} is not {ef.ACR_SOURCE!r}")
    account = fields.get(("aliyunaccountid",))
    if account is None:
        return ""
    field = fields.where(account[0])
    value = account[1]
    if not isinstance(value, str) or (allowed_accounts and value not in allowed_accounts):
        message = f"{field} {ef.excerpt(value)} is not among the allowed accounts"
        raise ef.fail(field, ef.R_FOREIGN_ACCOUNT, message)
    return fields.text((account[0],), ef.ACCOUNT)


def check_raw_region(region: str, policy: RawDataPolicy, where: str) -> None:
    """A data-only body must name the function's own region when that region is known."""
    if policy.region and region != policy.region:
        raise InvalidEvent(
            f"region {ef.excerpt(region)} is not this function's region {policy.region!r}: a RawData body "
            "comes from this region's event bus only",
            field=f"{where}data.RegionId",
            reason=R_FOREIGN_REGION,
        )
