"""The reconciler's listings: NextToken listings paid for under the call budget, page by page, restarted on
transient failures; and the destination repositories' ids, one ``ListRepository`` listing per destination
instance, region and identity per slice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from acrsync.domain.registry import Repository
from acrsync.errors import UpstreamRejected, UpstreamUnavailable
from acrsync.logging import get_logger
from acrsync.ports import Clock
from acrsync.service.gate import CallGate

T = TypeVar("T")
log = get_logger(__name__)

PAGE_ITEMS = 100  # WireRegistry pages at MaxResults=100 (reference §2.6): one budget token per page
LISTING_RETRIES = 3


def budgeted_listing(
    make: Callable[[], Iterator[T]], what: str, gate: CallGate, deadline: float, clock: Clock
) -> Iterator[T]:
    """A NextToken listing under the budget, one token per page request; transient failures restart
    it, skipping what was already yielded (the listing order is stable for a quiet repository).

    The first page is paid before it is asked for; a later page only once it has come (its first item
    arrives after a full page), because whether the iterator asks for another page is known only then
    — paying ahead would spend a token on every listing whose last page is exactly full.
    """
    yielded = 0
    for attempt in range(LISTING_RETRIES + 1):
        seen = 0
        try:
            items = make()
            _pay(gate, deadline)
            while True:
                try:
                    item = next(items)
                except StopIteration:
                    return
                if seen and seen % PAGE_ITEMS == 0:
                    _pay(gate, deadline)
                seen += 1
                if seen > yielded:
                    yielded = seen
                    yield item
        except UpstreamUnavailable as exc:
            if attempt == LISTING_RETRIES:
                raise
            log.warning("reconcile_listing_retry", call=what, attempt=attempt + 1, error=str(exc))
            clock.sleep(min(5.0, 0.5 * 2**attempt))


def _pay(gate: CallGate, deadline: float) -> None:
    gate.acquire(deadline)
    gate.calls += 1


@dataclass
class DestinationRepos:
    """Destination repository ids by (instance, region, identity): listed once per slice and identity (own,
    or a role), since what one identity may see, another may not."""

    # (instance, region, role) -> {(namespace, repo): repo_id}, or the reason the instance cannot be listed.
    listed: dict[tuple[str, str, str], dict[tuple[str, str], str] | str] = field(default_factory=dict)

    def repo_id(
        self,
        key: tuple[str, str, str],
        namespace: str,
        name: str,
        listing: Callable[[], Iterator[Repository]],
    ) -> str:
        """The destination repository's id; ``""`` if it does not exist, ``"!reason"`` if its instance cannot
        be listed (``listing`` lists it, the first time this slice asks)."""
        listed = self.listed.get(key)
        if listed is None:
            instance, region, _ = key
            try:
                listed = {(r.namespace, r.name): r.repo_id for r in listing()}
            except UpstreamRejected as exc:
                listed = f"destination instance {instance} in {region} cannot be listed: {exc}"
                log.error(
                    "reconcile_destination_unreachable", instance=instance, region=region, error=str(exc)
                )
            self.listed[key] = listed
        return "!" + listed if isinstance(listed, str) else listed.get((namespace, name), "")
