"""Parse what EventBridge and the FC timer deliver into typed events. Pure: no I/O, no logging, no clock.

Accepted shapes (reference §1.2, §1.3, §3.3):

* the CloudEvents envelope (``source``, ``type``, ``id``, ``aliyunaccountid``, ``data``), one JSON object;
* a JSON list of events (``event-streaming`` delivers arrays): ``parse_event`` takes a list of one,
  ``parse_events`` any number;
* the ``RawData`` schema, the ``data`` object alone, only when ``raw_data=RawDataPolicy(accept=True)``
  (refused otherwise, reason ``raw_data_refused``: with no envelope, source and account cannot be checked).
  What can be checked is (``_event_rawdata``): a data-level ``aliyunaccountid`` must be allowed, the region
  must be the function's; the event says ``raw_data=True``. With no ``type`` the kind is inferred:
  sync-task keys (``SyncTaskId``, ``TaskStatus``, ``ImageTo``, ``Target*``) mean SynchronizationCompleted;
* ``data`` keys in PascalCase (ACR's documented BuildCompleted sample) or camelCase (``instanceId``): keys
  match case-insensitively, and one key given twice in two cases is refused;
* the FC timer trigger, ``{"triggerTime", "triggerName", "payload"}``.

The push and sync payloads are ⚠ UNVERIFIED (reference §1.4), parsed by analogy with BuildCompleted and
``GetRepoSyncTask``. ``Digest``/``RepoId`` missing or malformed come back as ``""`` (the service refills them
with GetRepoTag/GetRepository); unknown keys are tolerated and listed in ``warnings`` for the caller to log.
Anything else wrong raises ``InvalidEvent`` with ``field`` (``data.Tag``, ``aliyunaccountid``,
``[1].data.RepoName``) and ``reason`` (the ``R_*`` constants); messages quote at most a short escaped excerpt
of one value, never the body. Use ``describe_shape`` to log a body that was refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from acrsync.domain import _event_fields as ef
from acrsync.domain._event_body import decode_body, describe_shape
from acrsync.domain._event_fields import ACR_SOURCE, DEFAULT_MAX_BYTES, PUSH_COMPLETED, SYNC_COMPLETED, Fields
from acrsync.domain._event_rawdata import REFUSE_RAW_DATA, RawDataPolicy, admit_raw_data, check_raw_region
from acrsync.domain.images import SourceImage

__all__ = [
    "ACR_SOURCE",
    "DEFAULT_MAX_BYTES",
    "PUSH_COMPLETED",
    "SYNC_COMPLETED",
    "ParsedEvent",
    "PushCompleted",
    "RawDataPolicy",
    "SyncCompleted",
    "TimerTick",
    "describe_shape",
    "parse_event",
    "parse_events",
]


@dataclass(frozen=True, slots=True)
class PushCompleted:
    """``cr:Artifact:PushCompleted``: a tag was pushed to a source instance.

    ``source_image.digest``/``.repo_id`` are ``""`` when the event lacks them. ``raw_keys``: the ``data`` keys
    as received (shape diagnostics). ``raw_data``: no envelope came, so the account was not checked.
    """

    event_id: str
    account_id: str
    region: str
    time: str
    source_image: SourceImage
    instance_name: str = ""
    image_update: str = ""
    raw_data: bool = False
    raw_keys: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SyncCompleted:
    """``cr:Artifact:SynchronizationCompleted``: ACR says a sync task ended (an accelerator, not the truth).

    ``task_id``/``status`` are ``""`` when absent: the watcher finds the task with ListRepoSyncTask and always
    confirms with GetRepoSyncTask (reference §1.4, §2.4). Target fields are ``""`` unless the event has them.
    """

    event_id: str
    account_id: str
    region: str
    time: str
    task_id: str
    status: str
    instance_id: str
    namespace: str
    repo: str
    tag: str
    target_instance_id: str = ""
    target_region: str = ""
    target_namespace: str = ""
    target_repo: str = ""
    target_tag: str = ""
    task_issue: str = ""
    raw_data: bool = False
    raw_keys: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def source_image(self) -> SourceImage:
        """The synced image as a ``SourceImage`` (no digest or repo id: sync events do not carry them)."""
        return SourceImage(self.instance_id, self.region, self.namespace, self.repo, self.tag)


@dataclass(frozen=True, slots=True)
class TimerTick:
    """An FC timer trigger fired (reference §3.3), the watcher's sweep. ``payload``: the configured string."""

    trigger_time: str
    trigger_name: str
    payload: str
    warnings: tuple[str, ...] = ()


ParsedEvent: TypeAlias = PushCompleted | SyncCompleted | TimerTick


@dataclass(frozen=True, slots=True)
class _Envelope:
    event_id: str = ""
    account_id: str = ""
    region: str = ""
    time: str = ""
    raw_data: bool = True


def parse_events(
    raw: bytes | str | dict[str, Any] | list[Any],
    *,
    allowed_accounts: frozenset[str],
    max_bytes: int = DEFAULT_MAX_BYTES,
    raw_data: RawDataPolicy = REFUSE_RAW_DATA,
) -> list[ParsedEvent]:
    """Parse a body holding one event or a JSON list of events; the first bad one refuses the whole body.

    ``allowed_accounts`` empty means any account; otherwise an envelope's ``aliyunaccountid`` must be in it.
    A ``bytes``/``str`` body over ``max_bytes`` is refused before parsing. Envelope-less (RawData) bodies
    are refused unless ``raw_data.accept``. Raises ``InvalidEvent`` only.
    """
    return _parse_doc(decode_body(raw, max_bytes), _Checks(allowed_accounts, raw_data))


def parse_event(
    raw: bytes | str | dict[str, Any] | list[Any],
    *,
    allowed_accounts: frozenset[str],
    max_bytes: int = DEFAULT_MAX_BYTES,
    raw_data: RawDataPolicy = REFUSE_RAW_DATA,
) -> ParsedEvent:
    """Parse a body holding exactly one event, possibly wrapped in a one-element list.

    A list of several is refused (reason ``multiple_events``; ``parse_events`` takes batches).
    Raises ``InvalidEvent`` only; the module docstring lists the shapes and reasons.
    """
    doc = decode_body(raw, max_bytes)
    if isinstance(doc, list) and len(doc) > 1:
        message = f"the body is a list of {len(doc)} events; expected one (parse_events takes a list)"
        raise ef.fail("", ef.R_MULTIPLE_EVENTS, message)
    return _parse_doc(doc, _Checks(allowed_accounts, raw_data))[0]


@dataclass(frozen=True, slots=True)
class _Checks:
    allowed_accounts: frozenset[str]
    raw_data: RawDataPolicy


def _parse_doc(doc: object, checks: _Checks) -> list[ParsedEvent]:
    if not isinstance(doc, list):
        return [_parse_one(doc, checks, "")]
    if not doc:
        raise ef.fail("", ef.R_EMPTY, "the body is an empty JSON list: no event in it")
    return [_parse_one(item, checks, f"[{i}].") for i, item in enumerate(doc)]


def _parse_one(doc: object, checks: _Checks, where: str) -> ParsedEvent:
    if not isinstance(doc, Mapping):
        raise ef.fail(
            where.rstrip("."), ef.R_NOT_AN_OBJECT, f"expected a JSON object, got {ef.json_type(doc)}"
        )
    if "source" in doc or "specversion" in doc or ("type" in doc and "data" in doc):
        return _parse_envelope(doc, checks.allowed_accounts, where)
    if ef.TIMER_KEYS & doc.keys() and "data" not in doc:
        return _parse_timer(Fields(doc, where, case_sensitive=True))
    fields = Fields(doc, f"{where}data.")
    if fields.has_any(ef.IDENTITY_KEYS):
        account = admit_raw_data(fields, checks.raw_data, checks.allowed_accounts, where)
        build = _build_sync if fields.has_any(ef.SYNC_KEYS) else _build_push
        event = build(fields, _Envelope(account_id=account))
        check_raw_region(event.region, checks.raw_data, where)
        return event
    keys = ", ".join(sorted(ef.excerpt(k, 24) for k in list(doc)[:8]))
    message = f"neither an ACR event, an ACR data object nor a timer event (keys: {keys or 'none'})"
    raise ef.fail(where.rstrip("."), ef.R_UNRECOGNISED_SHAPE, message)


def _parse_envelope(doc: Mapping[Any, Any], allowed_accounts: frozenset[str], where: str) -> ParsedEvent:
    # Who sent it (source, account) is decided before what it says (type, data).
    source = doc.get("source")
    if source is None:
        raise ef.fail(f"{where}source", ef.R_MISSING_FIELD, "the envelope has no 'source'")
    if source != ACR_SOURCE:
        raise ef.fail(
            f"{where}source", ef.R_FOREIGN_SOURCE, f"source {ef.excerpt(source)} is not {ACR_SOURCE!r}"
        )
    env = Fields(doc, where, case_sensitive=True)
    if allowed_accounts:
        account = _allowed_account(doc.get("aliyunaccountid"), allowed_accounts, f"{where}aliyunaccountid")
    else:
        account = env.text(("aliyunaccountid",), ef.ACCOUNT, required=False)
    etype = doc.get("type")
    if etype not in (PUSH_COMPLETED, SYNC_COMPLETED):
        expected = f"expected {PUSH_COMPLETED} or {SYNC_COMPLETED}"
        raise ef.fail(
            f"{where}type",
            ef.R_UNSUPPORTED_TYPE,
            f"event type {ef.excerpt(etype)} is not handled; {expected}",
        )
    data = doc.get("data")
    if data is None:
        raise ef.fail(f"{where}data", ef.R_MISSING_FIELD, "the envelope has no 'data' object")
    if not isinstance(data, Mapping):
        raise ef.fail(
            f"{where}data", ef.R_NOT_AN_OBJECT, f"'data' must be a JSON object, got {ef.json_type(data)}"
        )
    envelope = _Envelope(
        event_id=env.text(("id",), ef.EVENT_ID),
        account_id=account,
        region=env.text(("aliyunregionid",), ef.REGION, required=False),
        time=_lenient_time(env),
        raw_data=False,
    )
    env.warn_unknown(ef.ENVELOPE_KEYS)
    if doc.get("specversion", "1.0") != "1.0":
        env.warnings.append(f"specversion {ef.excerpt(doc.get('specversion'))} is not '1.0'")
    fields = Fields(data, f"{where}data.")
    fields.warnings.extend(env.warnings)
    return (_build_push if etype == PUSH_COMPLETED else _build_sync)(fields, envelope)


def _allowed_account(value: object, allowed: frozenset[str], field: str) -> str:
    if value is None:
        raise ef.fail(
            field, ef.R_FOREIGN_ACCOUNT, "the event has no aliyunaccountid and accounts are restricted"
        )
    if not isinstance(value, str) or value not in allowed:
        raise ef.fail(
            field,
            ef.R_FOREIGN_ACCOUNT,
            f"aliyunaccountid {ef.excerpt(value)} is not among the allowed accounts",
        )
    return value


def _lenient_time(env: Fields) -> str:
    # The envelope time is informational (logs, alerts): an odd format is noted, not refused.
    value = env.text(("time",), ef.TEXT, required=False)
    if value and not ef.TIME_RE.fullmatch(value):
        env.warnings.append(f"time {ef.excerpt(value)} is not RFC 3339")
    return value


def _parse_timer(f: Fields) -> TimerTick:
    trigger_time = f.text(("triggerTime",), ef.TIME)
    trigger_name = f.text(("triggerName",), ef.TRIGGER_NAME)
    payload = f.text(("payload",), ef.LONG_TEXT, required=False)
    f.warn_unknown(ef.TIMER_KEYS)
    return TimerTick(trigger_time, trigger_name, payload, warnings=f.final_warnings())


def _region(f: Fields, origin: Fields | None, envelope: _Envelope) -> str:
    """``data.RegionId``, else ``ImageFrom.RegionId`` (sync), else the envelope's ``aliyunregionid``."""
    region = f.text(("RegionId",), ef.REGION, required=False)
    if not region and origin is not None:
        region = origin.text(("RegionId",), ef.REGION, required=False)
    if not (region or envelope.region):
        field = f.where("RegionId")
        raise ef.fail(
            field, ef.R_MISSING_FIELD, f"{field} is missing and there is no envelope aliyunregionid"
        )
    return region or envelope.region


def _build_push(f: Fields, envelope: _Envelope) -> PushCompleted:
    image = SourceImage(
        instance_id=f.text(("InstanceId",), ef.INSTANCE),
        region=_region(f, None, envelope),
        namespace=f.text(("RepoNamespaceName",), ef.NAME),
        repo=f.text(("RepoName",), ef.NAME),
        tag=f.text(("Tag",), ef.TAG),
        digest=f.digest(),
        repo_id=f.repo_id(),
    )
    instance_name = f.text(("InstanceName",), ef.TEXT, required=False)
    image_update = f.text(("ImageUpdate",), ef.TEXT, required=False)
    f.warn_unknown(ef.KNOWN_DATA_KEYS)
    return PushCompleted(
        event_id=envelope.event_id,
        account_id=envelope.account_id,
        region=image.region,
        time=envelope.time,
        source_image=image,
        instance_name=instance_name,
        image_update=image_update,
        raw_data=envelope.raw_data,
        raw_keys=f.raw_keys(),
        warnings=f.final_warnings(),
    )


def _build_sync(f: Fields, envelope: _Envelope) -> SyncCompleted:
    # Flat keys (``data.Tag``) win; else the ImageFrom/ImageTo objects GetRepoSyncTask returns (§2.4).
    origin = f.nested("ImageFrom")
    src = origin if origin is not None and not f.has_any(("InstanceId", "RepoName", "Tag")) else f
    region = _region(f, origin, envelope)
    task_id = f.text(("SyncTaskId", "TaskId"), ef.TASK_ID, required=False)
    status = f.status()
    instance_id = src.text(("InstanceId",), ef.INSTANCE)
    namespace = src.text(("RepoNamespaceName",), ef.NAME)
    repo = src.text(("RepoName",), ef.NAME)
    tag = src.text(("Tag",) if src is f else ("ImageTag", "Tag"), ef.TAG)
    target = _sync_target(f)
    task_issue = f.task_issue()
    f.warn_unknown(ef.KNOWN_DATA_KEYS)
    return SyncCompleted(
        event_id=envelope.event_id,
        account_id=envelope.account_id,
        region=region,
        time=envelope.time,
        task_id=task_id,
        status=status,
        instance_id=instance_id,
        namespace=namespace,
        repo=repo,
        tag=tag,
        **target,
        task_issue=task_issue,
        raw_data=envelope.raw_data,
        raw_keys=f.raw_keys(),
        warnings=f.final_warnings(),
    )


def _sync_target(f: Fields) -> dict[str, str]:
    """Target fields: flat ``Target*`` keys, else the ``ImageTo`` object; all optional."""
    nested = f.nested("ImageTo")
    flat = nested is None or f.has_any(("TargetInstanceId", "TargetRepoName", "TargetTag"))
    src = f if flat or nested is None else nested
    names = {
        "target_instance_id": (("TargetInstanceId",), ("InstanceId",), ef.INSTANCE),
        "target_region": (("TargetRegionId",), ("RegionId",), ef.REGION),
        "target_namespace": (
            ("TargetNamespace", "TargetNamespaceName", "TargetRepoNamespaceName"),
            ("RepoNamespaceName",),
            ef.NAME,
        ),
        "target_repo": (("TargetRepoName",), ("RepoName",), ef.NAME),
        "target_tag": (("TargetTag",), ("ImageTag", "Tag"), ef.TAG),
    }
    return {
        key: src.text(flat_names if flat else nested_names, kind, required=False)
        for key, (flat_names, nested_names, kind) in names.items()
    }
