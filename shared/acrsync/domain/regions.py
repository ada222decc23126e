"""Which region ids are Alibaba Cloud *public cloud* regions. Pure.

ACR EE instance replication works between public-cloud regions only; Finance Cloud and Gov Cloud regions are
separate, isolated clouds (product.md "doctor"; reference §1.1 lists them apart: "China (Shanghai/Shenzhen/
Hangzhou) Finance, China (Beijing) Ali Gov 1").

Region ids, from Alibaba Cloud's region list ([DOC] https://alibabacloud.com/help/doc-detail/72379.htm,
section "Region list of Alibaba Finance Cloud": ``cn-shanghai-finance-1``) and the Finance Cloud overview
([DOC] https://help.aliyun.com/en/document_detail/73005.html: Hangzhou, Shenzhen, Shanghai, Beijing).
⚠ Only ``cn-shanghai-finance-1`` appears verbatim in the pages read; the other ids follow the same naming and
are matched by the ``-finance`` / ``-gov-`` markers anyway, so a new finance or gov region is caught too.
"""

from __future__ import annotations

import re

FINANCE_REGIONS = frozenset(
    {"cn-hangzhou-finance", "cn-shanghai-finance-1", "cn-shenzhen-finance-1", "cn-beijing-finance-1"}
)
GOV_REGIONS = frozenset({"cn-north-2-gov-1"})
# Any region id carrying a finance or gov marker belongs to an isolated industry cloud.
_ISOLATED_RE = re.compile(r"-(finance|gov)(-|$)")


def cloud_of(region: str) -> str:
    """``public``, ``finance`` or ``gov`` for a region id."""
    if region in FINANCE_REGIONS:
        return "finance"
    if region in GOV_REGIONS:
        return "gov"
    m = _ISOLATED_RE.search(region)
    return m.group(1) if m else "public"


def is_public_cloud(region: str) -> bool:
    """True for ordinary public-cloud regions (``cn-shanghai``, ``ap-southeast-1``...)."""
    return cloud_of(region) == "public"
