"""Field-level reading for ``acrsync.domain.events``: value kinds and validated reads. Pure.

Private to ``events``: import the public names from there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from acrsync.domain.images import DIGEST_RE, NAME_RE, TAG_RE
from acrsync.domain.registry import TaskStatus
from acrsync.errors import InvalidEvent

ACR_SOURCE: Final = "acs.cr"  # reference §1.1
PUSH_COMPLETED: Final = "cr:Artifact:PushCompleted"
SYNC_COMPLETED: Final = "cr:Artifact:SynchronizationCompleted"
DEFAULT_MAX_BYTES: Final = 256 * 1024

# InvalidEvent.reason values.
R_EMPTY: Final = "empty"
R_OVERSIZE: Final = "oversize"
R_MALFORMED_JSON: Final = "malformed_json"
R_DUPLICATE_KEY: Final = "duplicate_key"
R_NOT_AN_OBJECT: Final = "not_an_object"
R_MULTIPLE_EVENTS: Final = "multiple_events"
R_UNRECOGNISED_SHAPE: Final = "unrecognised_shape"
R_FOREIGN_SOURCE: Final = "foreign_source"
R_FOREIGN_ACCOUNT: Final = "foreign_account"
R_UNSUPPORTED_TYPE: Final = "unsupported_type"
R_MISSING_FIELD: Final = "missing_field"
R_WRONG_TYPE: Final = "wrong_type"
R_INVALID_VALUE: Final = "invalid_value"
R_AMBIGUOUS_FIELD: Final = "ambiguous_field"

# CloudEvents attributes and Alibaba extensions (reference §1.2).
ENVELOPE_KEYS: Final = frozenset(
    {"id", "source", "specversion", "type", "subject", "time", "datacontenttype", "dataschema", "data"}
    | {"aliyunaccountid", "aliyunpublishtime", "aliyuneventbusname", "aliyunregionid", "aliyunpublishaddr"}
)
TIMER_KEYS: Final = frozenset({"triggerTime", "triggerName", "payload"})  # reference §3.3
# Lower-cased ``data`` keys. Sync keys follow GetRepoSyncTask (§2.4): the sync event is ⚠ UNVERIFIED (§1.4).
SYNC_KEYS: Final = frozenset(
    {"synctaskid", "taskid", "taskstatus", "syncstatus", "taskissue", "imagefrom", "imageto"}
    | {"targetinstanceid", "targetregionid", "targetnamespace", "targetnamespacename", "targettag"}
    | {"targetreponamespacename", "targetreponame"}
)
# Push keys: the BuildCompleted sample (§1.3) plus Digest (§1.4); a few GetRepoSyncTask extras are tolerated.
KNOWN_DATA_KEYS: Final = SYNC_KEYS | frozenset(
    {"instanceid", "instancename", "regionid", "reponamespacename", "reponame", "repoid", "tag", "digest"}
    | {"imageupdate", "status", "syncbatchtaskid", "syncruleid", "tasktrigger"}
)
IDENTITY_KEYS: Final = frozenset({"instanceid", "reponamespacename", "reponame", "tag", "imagefrom"})

EVENT_ID_RE: Final = re.compile(r"^[!-~]{1,128}\Z")  # printable ASCII, no spaces: it becomes a log/ledger key
TIME_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?\Z")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HEX64_RE = re.compile(r"^[0-9a-f]{64}\Z")
_MAX_WARNINGS = 20


@dataclass(frozen=True, slots=True)
class Kind:
    """What one string field may hold: length bound, pattern, and the words for "is not ..." messages."""

    max_len: int
    pattern: re.Pattern[str] | None = None
    what: str = ""
    free_text: bool = False  # allows \n \r \t; other control characters are refused everywhere


# Instance ids: ``cri-`` + alphanumerics and inner hyphens (``cri-demo-src`` in the fixtures, reference §1.3).
INSTANCE = Kind(
    64, re.compile(r"^cri-[A-Za-z0-9](?:[A-Za-z0-9-]{0,58}[A-Za-z0-9])?\Z"), "an instance id (cri-...)"
)
REGION = Kind(64, re.compile(r"^[a-z]{2,8}(?:-[a-z0-9]{1,16}){1,5}\Z"), "a region id (e.g. cn-hangzhou)")
# Names: images.NAME_RE, the distribution grammar's path component (no '/', no '..', no '._' or '___').
NAME = Kind(
    64,
    NAME_RE,
    "a namespace/repository name (lowercase alphanumerics joined by '.', '_', '__' or '-', at most 64)",
)
TAG = Kind(128, TAG_RE, "a tag ([A-Za-z0-9_.-], first character alphanumeric or '_', at most 128)")
ACCOUNT = Kind(32, re.compile(r"^[0-9]{1,32}\Z"), "an account id (digits)")
TASK_ID = Kind(64, re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z"), "a sync task id (rst-...)")
STATUS = Kind(32, re.compile(r"^[A-Za-z_]{1,32}\Z"), "a task status word")
TRIGGER_NAME = Kind(128, re.compile(r"^[A-Za-z0-9_-]{1,128}\Z"), "a trigger name")
TIME = Kind(64, TIME_RE, "an RFC 3339 time")
EVENT_ID = Kind(128, EVENT_ID_RE, "an event id (printable ASCII, no spaces)")
TEXT = Kind(128)
LONG_TEXT = Kind(4096, free_text=True)
_REPO_ID_RE = re.compile(r"^crr-[A-Za-z0-9]{1,64}\Z")


def fail(field: str, reason: str, message: str) -> InvalidEvent:
    """Build (not raise) the one exception this parser raises; the message never quotes the body."""
    return InvalidEvent(message, field=field, reason=reason)


def excerpt(value: object, limit: int = 40) -> str:
    """A short, escaped quote of a value for messages: strings are cut and ``repr``-escaped, others typed."""
    if not isinstance(value, str):
        return json_type(value)
    return repr(value[:limit]) + (f"... ({len(value)} chars)" if len(value) > limit else "")


_JSON_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "a boolean"),
    ((int, float), "a number"),
    (str, "a string"),
    ((list, tuple), "a list"),
    (Mapping, "an object"),
)


def json_type(value: object) -> str:
    """How a value reads in JSON terms, for "got a number" messages."""
    if value is None:
        return "null"
    return next((name for types, name in _JSON_TYPES if isinstance(value, types)), type(value).__name__)


def clean_key(key: object) -> str:
    """A key safe to put in a log line: printable and short, else an escaped excerpt."""
    if isinstance(key, str) and key.isprintable() and len(key) <= 64:
        return key
    return excerpt(key, 24)


class Fields:
    """Validated reads of one JSON object; keys match case-insensitively unless told; unread keys noted."""

    def __init__(self, doc: Mapping[Any, Any], prefix: str, *, case_sensitive: bool = False) -> None:
        self._prefix = prefix
        self._case_sensitive = case_sensitive
        self._by_key: dict[str, tuple[str, Any]] = {}
        self._used: set[str] = set()
        self.warnings: list[str] = []
        for key, value in doc.items():
            if not isinstance(key, str):
                raise fail(prefix.rstrip("."), R_NOT_AN_OBJECT, f"object key {excerpt(key)} is not a string")
            folded = self._fold(key)
            if folded in self._by_key:
                # ``Tag`` and ``tag`` in one object: which one would ACR mean? Refuse rather than guess.
                message = f"{excerpt(key)} is given twice (the keys differ only in case)"
                raise fail(prefix + clean_key(key), R_AMBIGUOUS_FIELD, message)
            self._by_key[folded] = (key, value)

    def _fold(self, key: str) -> str:
        return key if self._case_sensitive else key.lower()

    def where(self, name: str) -> str:
        """The field path used in errors, e.g. ``data.Tag`` or ``[1].data.ImageFrom.RepoName``."""
        return self._prefix + name

    def has(self, name: str) -> bool:
        """True when the key is present with a non-null value."""
        got = self._by_key.get(self._fold(name))
        return got is not None and got[1] is not None

    def has_any(self, names: Iterable[str]) -> bool:
        """True when any of these keys is present with a non-null value."""
        return any(self.has(n) for n in names)

    def get(self, names: tuple[str, ...]) -> tuple[str, Any] | None:
        """``(name, value)`` for the first of ``names`` present and non-null (null reads as absent)."""
        for name in names:
            folded = self._fold(name)
            if folded in self._by_key:
                self._used.add(folded)
                if self._by_key[folded][1] is not None:
                    return name, self._by_key[folded][1]
        return None

    def text(self, names: tuple[str, ...], kind: Kind, *, required: bool = True) -> str:
        """A string field of ``kind``: type, length, control characters and pattern checked."""
        got = self.get(names)
        field = self.where(got[0] if got else names[0])
        if got is None:
            if required:
                raise fail(field, R_MISSING_FIELD, f"{field} is missing")
            return ""
        value = got[1]
        if not isinstance(value, str):
            raise fail(field, R_WRONG_TYPE, f"{field} must be a string, got {json_type(value)}")
        if len(value) > kind.max_len:
            message = f"{field} is {len(value)} characters long; at most {kind.max_len} allowed"
            raise fail(field, R_INVALID_VALUE, message)
        controls = set(_CONTROL_RE.findall(value))
        if controls and not (kind.free_text and controls <= {"\n", "\r", "\t"}):
            raise fail(field, R_INVALID_VALUE, f"{field} {excerpt(value)} contains control characters")
        if kind.pattern is not None and not kind.pattern.fullmatch(value):
            raise fail(field, R_INVALID_VALUE, f"{field} {excerpt(value)} is not {kind.what}")
        return value

    def digest(self) -> str:
        """``sha256:<64 hex>``; bare hex gets the prefix; anything else → ``""`` (GetRepoTag refills it)."""
        value = self.text(("Digest",), LONG_TEXT, required=False)
        if not value or DIGEST_RE.fullmatch(value):
            return value
        if _HEX64_RE.fullmatch(value):
            self.warnings.append(f"{self.where('Digest')} had no 'sha256:' prefix; added")
            return f"sha256:{value}"
        return self._dropped("Digest", value)

    def repo_id(self) -> str:
        """``crr-...``; anything else → ``""`` (GetRepository refills it from namespace and name)."""
        value = self.text(("RepoId",), LONG_TEXT, required=False)
        if not value or _REPO_ID_RE.fullmatch(value):
            return value
        return self._dropped("RepoId", value)

    def _dropped(self, name: str, value: str) -> str:
        # Optional ids the service can look up again: a shape we did not foresee must not block replication.
        self.warnings.append(f"{self.where(name)} {excerpt(value)} ignored: unexpected format")
        return ""

    def status(self) -> str:
        """Sync task status, upper-cased; a value outside ``TaskStatus`` is kept, with a warning."""
        value = self.text(("TaskStatus", "SyncStatus", "Status"), STATUS, required=False).upper()
        if value and value not in TaskStatus.__members__:
            self.warnings.append(f"status {excerpt(value)} is not one of {', '.join(TaskStatus.__members__)}")
        return value

    def task_issue(self) -> str:
        """ACR's free-text failure reason, control characters replaced and cut to 1024 characters."""
        got = self.get(("TaskIssue",))
        if got is None:
            return ""
        if not isinstance(got[1], str):
            field = self.where("TaskIssue")
            raise fail(field, R_WRONG_TYPE, f"{field} must be a string, got {json_type(got[1])}")
        return _CONTROL_RE.sub(" ", got[1])[:1024]

    def nested(self, name: str) -> Fields | None:
        """A nested object (``ImageFrom``) as ``Fields``, or None when absent."""
        got = self.get((name,))
        if got is None:
            return None
        if not isinstance(got[1], Mapping):
            field = self.where(name)
            raise fail(field, R_WRONG_TYPE, f"{field} must be an object, got {json_type(got[1])}")
        return Fields(got[1], self.where(name) + ".")

    def raw_keys(self) -> tuple[str, ...]:
        """The keys as received (cleaned for logs), sorted, at most 64."""
        return tuple(sorted(clean_key(orig) for orig, _ in self._by_key.values()))[:64]

    def warn_unknown(self, known: Iterable[str]) -> None:
        """Add a warning per key neither read nor in ``known``."""
        known_folded = {self._fold(k) for k in known}
        for folded, (orig, _) in self._by_key.items():
            if folded not in self._used and folded not in known_folded:
                self.warnings.append(f"unknown key {self.where(clean_key(orig))} ignored")

    def final_warnings(self) -> tuple[str, ...]:
        """All warnings, capped so an object with 10,000 unknown keys yields a bounded list."""
        if len(self.warnings) <= _MAX_WARNINGS:
            return tuple(self.warnings)
        return (*self.warnings[:_MAX_WARNINGS], f"... and {len(self.warnings) - _MAX_WARNINGS} more warnings")
