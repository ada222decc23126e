"""Event parsing: every fixture under events/, the refusals, and properties over arbitrary input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acrsync.domain.events import (
    PushCompleted,
    RawDataPolicy,
    SyncCompleted,
    TimerTick,
    describe_shape,
    parse_event,
    parse_events,
)
from acrsync.domain.images import DIGEST_RE
from acrsync.errors import InvalidEvent
from tests.fixtures import event_names, load_event

ACCOUNT = "1234567890123456"
ALLOWED = frozenset({ACCOUNT})
ANY_ACCOUNT: frozenset[str] = frozenset()
PUSH_FIXTURE = "acs.cr/push_completed.json"
ACCEPT_RAW = RawDataPolicy(accept=True, region="cn-hangzhou")

# name -> (namespace, repo, tag, has digest, has repo id, raw_data)
PUSHES: dict[str, tuple[str, str, str, bool, bool, bool]] = {
    "acs.cr/push_completed.json": ("team-a", "web", "v1.2.3", True, True, False),
    "acs.cr/push_completed.multi_destination.json": ("team-a", "web", "release-42", True, True, False),
    "acs.cr/push_completed.v1.3.0.json": ("team-a", "web", "v1.3.0", True, True, False),
    "acs.cr/push_completed.latest.json": ("team-a", "web", "latest", True, True, False),
    "acs.cr/push_completed.debug.json": ("team-a", "web", "v1.2.4-debug", True, True, False),
    "acs.cr/push_completed.prerelease.json": ("platform", "api-gateway", "v2.1.0-rc.1", True, True, False),
    "acs.cr/push_completed.sandbox.json": ("team-a", "sandbox-joe", "v1.0.0", True, True, False),
    "acs.cr/push_completed.dated.json": ("team-a", "web", "20261128-1a2b3c4", True, True, False),
    "acs.cr/push_completed.list_wrapped.json": ("team-a", "web", "v1.2.3", True, True, False),
    "acs.cr/push_completed.rawdata.json": ("team-a", "web", "v1.2.3", True, True, True),
    "acs.cr/push_completed.camelcase.json": ("team-a", "web", "v1.2.3", True, True, False),
    "acs.cr/push_completed.missing_digest.json": ("team-a", "web", "v1.2.3", False, True, False),
    "acs.cr/push_completed.missing_repo_id.json": ("team-a", "web", "v1.2.3", True, False, False),
}
# name -> (status, target instance, target region, has task issue)
SYNCS: dict[str, tuple[str, str, str, bool]] = {
    "acs.cr/synchronization_completed.success.json": ("SUCCESS", "cri-demo-sh", "cn-shanghai", False),
    "acs.cr/synchronization_completed.error.json": ("ERROR", "cri-demo-sh", "cn-shanghai", True),
    "acs.cr/synchronization_completed.nested.json": ("SUCCESS", "cri-demo-bj", "cn-beijing", False),
}
BATCHES = {"acs.cr/push_completed.batch.json": 2}
TIMERS = {"timer/sweep.json": ("2026-11-28T02:15:00Z", "watcher-sweep", "sweep")}
# name -> (reason, field, words the message must contain)
INVALID: dict[str, tuple[str, str, str]] = {
    "invalid/foreign_account.json": ("foreign_account", "aliyunaccountid", "9876543210987654"),
    "invalid/non_acr_source.json": ("foreign_source", "source", "acs.oss"),
    "invalid/malformed.json": ("malformed_json", "", "line 11 column"),
    "invalid/empty.json": ("empty", "", "empty"),
    "invalid/missing_tag.json": ("missing_field", "data.Tag", "data.Tag is missing"),
    "invalid/hostile_tag.json": ("invalid_value", "data.Tag", "is not a tag"),
    "invalid/hostile_namespace.json": (
        "invalid_value",
        "data.RepoNamespaceName",
        "'../../etc' is not a namespace",
    ),
    "invalid/control_chars_repo.json": ("invalid_value", "data.RepoName", "control characters"),
    "invalid/tag_not_a_string.json": ("wrong_type", "data.Tag", "must be a string"),
    "invalid/wrong_type.json": ("unsupported_type", "type", "cr:Artifact:BuildCompleted"),
    "invalid/not_an_object.json": ("not_an_object", "", "got a string"),
    "invalid/ambiguous_case.json": ("ambiguous_field", "data.instanceId", "differ only in case"),
    "invalid/missing_region.json": ("missing_field", "data.RegionId", "RegionId"),
    "invalid/duplicate_key.json": ("duplicate_key", "Tag", "appears twice"),
}


def _push_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(load_event(PUSH_FIXTURE))
    return doc


def test_every_fixture_has_an_expectation_here() -> None:
    # GIVEN the fixture library WHEN listing it THEN each file is in exactly one table here (add new ones).
    covered = set(PUSHES) | set(SYNCS) | set(BATCHES) | set(TIMERS) | set(INVALID)
    assert set(event_names()) == covered


@pytest.mark.parametrize("name", sorted(PUSHES))
def test_push_fixture_parses_to_its_source_image(name: str) -> None:
    # GIVEN a push fixture WHEN parsed as FC hands it over (bytes), RawData accepted for the RawData one
    namespace, repo, tag, has_digest, has_repo_id, raw_data = PUSHES[name]
    policy = ACCEPT_RAW if raw_data else RawDataPolicy()
    event = parse_event(load_event(name), allowed_accounts=ALLOWED, raw_data=policy)
    # THEN it is a push of that image from cri-demo-src in cn-hangzhou, with no tolerated oddities
    assert isinstance(event, PushCompleted)
    image = event.source_image
    assert (image.instance_id, image.region, image.namespace, image.repo, image.tag) == (
        "cri-demo-src",
        "cn-hangzhou",
        namespace,
        repo,
        tag,
    )
    assert (DIGEST_RE.fullmatch(image.digest) is not None) is has_digest
    assert image.repo_id.startswith("crr-") is has_repo_id
    assert event.raw_data is raw_data
    assert event.account_id == ("" if raw_data else ACCOUNT)
    assert bool(event.event_id) is not raw_data
    assert event.warnings == ()


@pytest.mark.parametrize("name", sorted(SYNCS))
def test_sync_fixture_parses_to_its_task(name: str) -> None:
    # GIVEN a SynchronizationCompleted fixture (flat or ImageFrom/ImageTo shape) WHEN parsed
    event = parse_event(load_event(name), allowed_accounts=ALLOWED)
    # THEN the task, its status, the source image and the target are read
    status, target_instance, target_region, has_issue = SYNCS[name]
    assert isinstance(event, SyncCompleted)
    assert event.task_id.startswith("rst-")
    assert event.status == status
    assert event.source_image.ref == "cri-demo-src/team-a/web:v1.2.3"
    assert event.region == "cn-hangzhou"
    assert (event.target_instance_id, event.target_region) == (target_instance, target_region)
    assert (event.target_namespace, event.target_repo, event.target_tag) == ("team-a", "web", "v1.2.3")
    assert bool(event.task_issue) is has_issue
    assert event.warnings == ()


def test_timer_fixture_parses_to_a_tick() -> None:
    # GIVEN the timer fixture WHEN parsed THEN its time, trigger name and payload come back
    for name, (trigger_time, trigger_name, payload) in TIMERS.items():
        event = parse_event(load_event(name), allowed_accounts=ALLOWED)
        assert event == TimerTick(trigger_time, trigger_name, payload)


def test_batch_of_two_is_refused_by_parse_event_but_parsed_by_parse_events() -> None:
    # GIVEN a JSON list of two push events
    body = load_event("acs.cr/push_completed.batch.json")
    # WHEN parse_event is asked for one THEN it refuses, naming the count
    with pytest.raises(InvalidEvent) as refused:
        parse_event(body, allowed_accounts=ALLOWED)
    assert refused.value.reason == "multiple_events"
    assert "2 events" in str(refused.value)
    # WHEN parse_events reads the batch THEN each event comes back, in order
    events = parse_events(body, allowed_accounts=ALLOWED)
    assert [e.source_image.tag for e in events if isinstance(e, PushCompleted)] == ["v1.3.0", "v2.1.0-rc.1"]


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_fixture_is_refused_with_reason_and_field(name: str) -> None:
    # GIVEN an invalid fixture WHEN parsed with the account restricted
    with pytest.raises(InvalidEvent) as refused:
        parse_event(load_event(name), allowed_accounts=ALLOWED)
    # THEN the reason and field say what is wrong, and so does the (short) message
    reason, field, words = INVALID[name]
    assert (refused.value.reason, refused.value.field) == (reason, field)
    assert words in str(refused.value)
    assert len(str(refused.value)) < 300


def test_camelcase_and_pascalcase_events_read_the_same_image() -> None:
    # GIVEN the same push in PascalCase and camelCase WHEN both are parsed THEN the images are equal
    pascal = parse_event(load_event(PUSH_FIXTURE), allowed_accounts=ALLOWED)
    camel = parse_event(load_event("acs.cr/push_completed.camelcase.json"), allowed_accounts=ALLOWED)
    assert isinstance(pascal, PushCompleted)
    assert isinstance(camel, PushCompleted)
    assert camel.source_image == pascal.source_image


def test_bytes_str_and_dict_bodies_parse_alike() -> None:
    # GIVEN one event as bytes, as str and as an already-decoded dict WHEN parsed THEN the results are equal
    body = load_event(PUSH_FIXTURE)
    results = {parse_event(raw, allowed_accounts=ALLOWED) for raw in (body, body.decode(), json.loads(body))}
    assert len(results) == 1


def test_any_account_is_accepted_when_no_accounts_are_configured() -> None:
    # GIVEN an event from another account and no allowed list WHEN parsed THEN it is accepted as is
    event = parse_event(load_event("invalid/foreign_account.json"), allowed_accounts=ANY_ACCOUNT)
    assert isinstance(event, PushCompleted)
    assert event.account_id == "9876543210987654"


def test_event_without_account_is_refused_when_accounts_are_restricted() -> None:
    # GIVEN an envelope with no aliyunaccountid WHEN parsed with an allowed list THEN foreign_account
    doc = _push_doc()
    del doc["aliyunaccountid"]
    with pytest.raises(InvalidEvent) as refused:
        parse_event(doc, allowed_accounts=ALLOWED)
    assert (refused.value.reason, refused.value.field) == ("foreign_account", "aliyunaccountid")


def test_rawdata_body_is_refused_unless_raw_data_is_accepted() -> None:
    # GIVEN the data object alone (RawData schema), whose source and account cannot be checked
    body = load_event("acs.cr/push_completed.rawdata.json")
    # WHEN parsed with the default policy THEN it is refused, saying how to accept it
    with pytest.raises(InvalidEvent) as refused:
        parse_event(body, allowed_accounts=ALLOWED)
    assert refused.value.reason == "raw_data_refused"
    assert "ACRSYNC_ACCEPT_RAWDATA=true" in str(refused.value)


def test_accepted_rawdata_body_without_an_account_is_flagged_and_has_no_identity() -> None:
    # GIVEN RawData accepted and an allowed list; the data object carries no account
    body = load_event("acs.cr/push_completed.rawdata.json")
    # WHEN parsed THEN it is accepted, flagged raw_data, with no event id or account to trust
    event = parse_event(body, allowed_accounts=frozenset({"1111111111111111"}), raw_data=ACCEPT_RAW)
    assert isinstance(event, PushCompleted)
    assert (event.raw_data, event.event_id, event.account_id) == (True, "", "")


@pytest.mark.parametrize(
    ("extra", "reason", "field"),
    [
        ({"aliyunaccountid": "9999999999999999"}, "foreign_account", "data.aliyunaccountid"),
        ({"AliyunAccountId": 1234567890123456}, "foreign_account", "data.aliyunaccountid"),
        ({"Source": "evil.example"}, "foreign_source", "data.source"),
        ({"RegionId": "us-west-1"}, "foreign_region", "data.RegionId"),
    ],
)
def test_accepted_rawdata_body_is_held_to_every_check_it_can_be(
    extra: dict[str, Any], reason: str, field: str
) -> None:
    # GIVEN RawData accepted, and a data object naming a foreign account or source, or another region
    doc = json.loads(load_event("acs.cr/push_completed.rawdata.json"))
    doc.update(extra)
    # WHEN parsed THEN it is refused as the envelope's attributes would be
    with pytest.raises(InvalidEvent) as refused:
        parse_event(doc, allowed_accounts=ALLOWED, raw_data=ACCEPT_RAW)
    assert (refused.value.reason, refused.value.field) == (reason, field)


def test_accepted_rawdata_body_naming_an_allowed_account_carries_it() -> None:
    doc = json.loads(load_event("acs.cr/push_completed.rawdata.json"))
    doc["aliyunaccountid"] = ACCOUNT
    event = parse_event(doc, allowed_accounts=ALLOWED, raw_data=ACCEPT_RAW)
    assert (event.raw_data, event.account_id, event.warnings) == (True, ACCOUNT, ())


def test_rawdata_with_sync_keys_is_a_sync_event() -> None:
    # GIVEN the data object of a sync event alone WHEN parsed THEN it is read as a SyncCompleted
    data = json.loads(load_event("acs.cr/synchronization_completed.error.json"))["data"]
    event = parse_event(data, allowed_accounts=ALLOWED, raw_data=ACCEPT_RAW)
    assert isinstance(event, SyncCompleted)
    assert (event.status, event.raw_data) == ("ERROR", True)


def test_region_falls_back_to_the_envelope() -> None:
    # GIVEN a push whose data has no RegionId WHEN parsed THEN the envelope's aliyunregionid is used
    doc = _push_doc()
    del doc["data"]["RegionId"]
    doc["aliyunregionid"] = "cn-hangzhou"
    event = parse_event(doc, allowed_accounts=ALLOWED)
    assert isinstance(event, PushCompleted)
    assert event.source_image.region == "cn-hangzhou"


def test_unknown_keys_are_tolerated_and_reported_as_warnings() -> None:
    # GIVEN a push with keys nobody documented, in the envelope and in data
    doc = _push_doc()
    doc["aliyunoriginalaccountid"] = ACCOUNT
    doc["data"]["PushUser"] = "alice"
    # WHEN parsed THEN it parses, and each unknown key is named in a warning
    event = parse_event(doc, allowed_accounts=ALLOWED)
    assert event.warnings == (
        "unknown key aliyunoriginalaccountid ignored",
        "unknown key data.PushUser ignored",
    )


def test_warnings_are_capped_for_objects_with_many_unknown_keys() -> None:
    # GIVEN a push with 500 unknown data keys WHEN parsed THEN the warnings stay bounded
    doc = _push_doc()
    doc["data"].update({f"Extra{i}": i for i in range(500)})
    event = parse_event(doc, allowed_accounts=ALLOWED)
    assert len(event.warnings) == 21
    assert event.warnings[-1] == "... and 480 more warnings"


@pytest.mark.parametrize(
    ("digest", "expected", "warned"),
    [
        ("ab" * 32, "sha256:" + "ab" * 32, True),
        ("md5:1234", "", True),
        (None, "", False),
    ],
)
def test_odd_digest_is_normalised_or_dropped_never_refused(
    digest: str | None, expected: str, warned: bool
) -> None:
    # GIVEN a push whose Digest is bare hex, of another algorithm, or null WHEN parsed
    doc = _push_doc()
    doc["data"]["Digest"] = digest
    event = parse_event(doc, allowed_accounts=ALLOWED)
    # THEN the digest is prefixed or left empty for the service to refetch, with a warning when changed
    assert isinstance(event, PushCompleted)
    assert event.source_image.digest == expected
    assert bool(event.warnings) is warned


def test_malformed_repo_id_is_dropped_with_a_warning() -> None:
    # GIVEN a RepoId that is not crr-... WHEN parsed THEN repo_id is empty (GetRepository refills it)
    doc = _push_doc()
    doc["data"]["RepoId"] = "12345"
    event = parse_event(doc, allowed_accounts=ALLOWED)
    assert isinstance(event, PushCompleted)
    assert event.source_image.repo_id == ""
    assert event.warnings == ("data.RepoId '12345' ignored: unexpected format",)


def test_oversized_body_is_refused_before_parsing() -> None:
    # GIVEN a 300 KiB body that is also not JSON (so parsing it would fail differently)
    body = b"{" + b"x" * (300 * 1024)
    # WHEN parsed THEN the size is what refuses it
    with pytest.raises(InvalidEvent) as refused:
        parse_event(body, allowed_accounts=ALLOWED)
    assert refused.value.reason == "oversize"
    assert "307201 bytes" in str(refused.value)


def test_valid_event_padded_past_max_bytes_is_refused() -> None:
    # GIVEN a valid push padded with whitespace to just over a 4 KiB limit
    body = load_event(PUSH_FIXTURE)
    padded = body + b" " * (4096 - len(body) + 1)
    # WHEN parsed with max_bytes=4096 THEN it is refused; without padding it passes
    with pytest.raises(InvalidEvent) as refused:
        parse_event(padded, allowed_accounts=ALLOWED, max_bytes=4096)
    assert refused.value.reason == "oversize"
    assert isinstance(parse_event(body, allowed_accounts=ALLOWED, max_bytes=4096), PushCompleted)


_ENV_HEAD = b'{"source": "acs.cr", "type": "cr:Artifact:PushCompleted", "aliyunaccountid": "1234567890123456"'


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"  \n\t ", "empty"),
        (b"[]", "empty"),
        (b"\xff\xfe{}", "malformed_json"),
        (b"[" * 100_000, "malformed_json"),
        (b"1" * 5000, "malformed_json"),
        (b"null", "not_an_object"),
        (b"[42]", "not_an_object"),
        (b'{"hello": "world"}', "unrecognised_shape"),
        (_ENV_HEAD + b"}", "missing_field"),
        (_ENV_HEAD + b', "data": []}', "not_an_object"),
        (_ENV_HEAD + b', "data": {"Tag": "v1"}, "id": 7}', "wrong_type"),
        (b'{"triggerTime": "2026-11-28T02:15:00Z"}', "missing_field"),
        (b'{"triggerTime": "yesterday", "triggerName": "t"}', "invalid_value"),
    ],
)
def test_bodies_that_are_not_events_are_refused(raw: bytes, reason: str) -> None:
    # GIVEN a body that is not a usable event WHEN parsed THEN InvalidEvent with the expected reason
    with pytest.raises(InvalidEvent) as refused:
        parse_event(raw, allowed_accounts=ALLOWED)
    assert refused.value.reason == reason


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("RepoName", "team-a/web"),
        ("RepoName", "a" * 65),
        ("RepoNamespaceName", "Team-A"),
        ("InstanceId", "i-not-acr"),
        ("Tag", "-rf"),
        ("Tag", "v" * 129),
        ("Tag", "$(reboot)"),
        ("RegionId", "cn hangzhou"),
    ],
)
def test_hostile_or_overlong_values_are_refused_naming_the_field(field: str, value: str) -> None:
    # GIVEN a push with one value outside ACR's charset or length WHEN parsed
    doc = _push_doc()
    doc["data"][field] = value
    with pytest.raises(InvalidEvent) as refused:
        parse_event(doc, allowed_accounts=ALLOWED)
    # THEN the field is named and the message quotes no more than a short excerpt of the value
    assert refused.value.field == f"data.{field}"
    assert refused.value.reason == "invalid_value"
    assert value[:60] not in str(refused.value) or len(value) <= 40


def test_list_item_errors_name_their_position() -> None:
    # GIVEN a list whose second event lacks its tag WHEN parsed as a batch THEN the field names the item
    second = _push_doc()
    del second["data"]["Tag"]
    with pytest.raises(InvalidEvent) as refused:
        parse_events([_push_doc(), second], allowed_accounts=ALLOWED)
    assert refused.value.field == "[1].data.Tag"


def test_describe_shape_lists_keys_and_types_but_no_values() -> None:
    # GIVEN a push carrying a secret-looking value WHEN its shape is described
    doc = _push_doc()
    doc["data"]["Token"] = "super-secret-value"
    shape = describe_shape(json.dumps(doc).encode())
    # THEN keys, types, source and type appear; values do not
    assert shape["source"] == "'acs.cr'"
    assert shape["type"] == "'cr:Artifact:PushCompleted'"
    assert shape["data"] == {
        "kind": "object",
        "keys": dict.fromkeys(doc["data"], "a string"),
    }
    assert "super-secret-value" not in json.dumps(shape)
    assert ACCOUNT not in json.dumps(shape)


def test_describe_shape_of_unparseable_body_says_why() -> None:
    # GIVEN a truncated body WHEN described THEN the summary gives its size and the refusal reason only
    body = load_event("invalid/malformed.json")
    assert describe_shape(body) == {"kind": "unparseable", "size": len(body), "reason": "malformed_json"}


def test_describe_shape_of_a_list_describes_its_first_item() -> None:
    # GIVEN a list-wrapped event WHEN described THEN the length and the first event's keys are given
    shape = describe_shape(load_event("acs.cr/push_completed.list_wrapped.json"))
    assert shape["kind"] == "list"
    assert shape["length"] == 1
    first = shape["first"]
    assert isinstance(first, dict)
    assert "aliyunaccountid" in first["keys"]


# ---- properties: nothing but InvalidEvent escapes, and messages stay short ----

_json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=300)


def _json_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    # A named function, not a lambda: hypothesis inspects a lambda's source, and warned ("doesn't use its
    # argument") when this file changed under a running session.
    return st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=6)


_json = st.recursive(_json_leaf, _json_containers, max_leaves=30)
_FIELDS = ["InstanceId", "RegionId", "RepoNamespaceName", "RepoName", "RepoId", "Tag", "Digest", "instanceId"]
_ENVELOPE = ["id", "source", "type", "aliyunaccountid", "aliyunregionid", "time", "data", "specversion"]
_PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parse_or_refuse(raw: Any) -> None:
    try:
        events = parse_events(raw, allowed_accounts=ALLOWED)
    except InvalidEvent as e:
        message = str(e)
        assert len(message) < 400
        for text in _long_strings(raw):
            assert text[:60] not in message
        describe_shape(raw)  # must not raise either
    else:
        assert all(isinstance(e, (PushCompleted, SyncCompleted, TimerTick)) for e in events)


def _long_strings(value: Any) -> list[str]:
    if isinstance(value, bytes):
        return [value.decode("utf-8", "replace")] if len(value) > 60 else []
    if isinstance(value, str):
        return [value] if len(value) > 60 else []
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _long_strings(k) + _long_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _long_strings(v)]
    return []


@_PROPS
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_nothing_but_invalid_event(raw: bytes) -> None:
    # GIVEN any bytes WHEN parsed THEN an event or InvalidEvent with a short message, never another exception
    _parse_or_refuse(raw)


@_PROPS
@given(_json)
def test_arbitrary_json_raises_nothing_but_invalid_event(doc: Any) -> None:
    # GIVEN any JSON value, decoded and encoded WHEN parsed THEN only InvalidEvent escapes
    _parse_or_refuse(doc)
    _parse_or_refuse(json.dumps(doc).encode())


@_PROPS
@given(
    st.dictionaries(st.sampled_from(_FIELDS), _json, max_size=4),
    st.dictionaries(st.sampled_from(_ENVELOPE), _json, max_size=3),
)
def test_mutated_push_raises_nothing_but_invalid_event(
    data: dict[str, Any], envelope: dict[str, Any]
) -> None:
    # GIVEN a real push with some data and envelope fields replaced by arbitrary JSON WHEN parsed
    doc = _push_doc()
    doc["data"].update(data)
    doc.update(envelope)
    # THEN it parses or is refused with InvalidEvent; nothing else escapes
    _parse_or_refuse(doc)
    _parse_or_refuse(json.dumps(doc).encode())
