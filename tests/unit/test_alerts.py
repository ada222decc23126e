"""Alert grouping and rendering: one message per failure group and window, every fact an operator needs."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from acrsync.domain.alerts import (
    FOUND_DIGEST_KEY,
    MAX_ENTRIES_SHOWN,
    TEXT_BUDGET_BYTES,
    FailureGroup,
    group_failures,
    render_failure,
    render_resolved,
    retry_command,
)
from acrsync.domain.ledger import LedgerEntry, State
from tests.builders import ledger_entry

DIGEST = "sha256:" + "a" * 64
OTHER_DIGEST = "sha256:" + "b" * 64
NOW = "2026-05-01T08:00:00Z"
T0 = 1_777_622_400.0  # 2026-05-01T08:00:00Z, a multiple of 300 s


def failed(i: int = 1, **changes: Any) -> LedgerEntry:
    entry = ledger_entry(
        f"claim-{i}",
        tag=f"v1.{i}",
        rule="prod-to-sh",
        source_instance="cri-src123",
        digest=DIGEST,
        dest_instance="cri-dst456",
        state=State.FAILED,
        task_id=f"rst-{i:04d}",
        attempts=3,
        max_attempts=3,
        created_at=T0 - 600,
        updated_at=T0 + i % 60,
        task_issue="REPO_NOT_EXIST: target repository missing",
        error_class="task_error",
    )
    return replace(entry, **changes)


def only_group(*entries: LedgerEntry) -> FailureGroup:
    (group,) = group_failures(entries)
    return group


def test_sixty_failures_of_one_group_collapse_into_one_message() -> None:
    # GIVEN 60 failures of the same rule, destination repo and error class within one window
    entries = [failed(i) for i in range(60)]
    # WHEN grouped
    groups = group_failures(entries)
    # THEN one group holds all 60, and its message says so while staying small
    assert len(groups) == 1
    assert len(groups[0].entries) == 60
    message = render_failure(groups[0], NOW)
    assert "×60" in message.title
    assert f"…and {60 - MAX_ENTRIES_SHOWN} more" in message.markdown
    assert len(message.markdown.encode("utf-8")) <= TEXT_BUDGET_BYTES


@pytest.mark.parametrize(
    "change",
    [
        {"rule": "other-rule"},
        {"dest_instance": "cri-other"},
        {"dest_region": "cn-beijing"},
        {"dest_namespace": "team-b"},
        {"dest_repo": "api"},
        {"error_class": "mismatch"},
        {"updated_at": T0 + 300},  # the next window
    ],
)
def test_failures_differing_in_a_group_field_go_to_separate_messages(change: dict[str, object]) -> None:
    # GIVEN two failures that differ in one field of the group key (or in window)
    entries = [failed(1), failed(2, **change)]
    # WHEN grouped
    groups = group_failures(entries)
    # THEN they are two groups with one entry each
    assert [len(g.entries) for g in groups] == [1, 1]
    assert groups[0].alert_key != groups[1].alert_key


def test_groups_keep_first_failure_order_and_stable_keys() -> None:
    # GIVEN interleaved failures of two rules
    entries = [failed(1, rule="b"), failed(2, rule="a"), failed(3, rule="b")]
    # WHEN grouped twice (as two watcher instances would)
    first, again = group_failures(entries), group_failures(list(reversed(entries)))
    # THEN order is by first failure and the keys agree across runs
    assert [g.key.rule for g in first] == ["b", "a"]
    assert [g.alert_key for g in first] == [g.alert_key for g in again]


def test_failure_message_names_every_required_field() -> None:
    # GIVEN one task error
    entry = failed(7)
    # WHEN rendered
    text = render_failure(only_group(entry), NOW).markdown
    # THEN rule, source and digest, destination, task id, TaskIssue, attempts and the retry command are there
    for fact in (
        "prod-to-sh",
        "cri-src123/team-a/web:v1.7",
        DIGEST,
        "cri-dst456@cn-shanghai/team-a/web:v1.7",
        "rst-0007",
        "REPO_NOT_EXIST: target repository missing",
        "attempts: 3/3",
        "`acr-sync retry cri-src123/team-a/web:v1.7 --rule prod-to-sh`",
        NOW,
    ):
        assert fact in text, fact


def test_retry_command_uses_the_source_ref_and_rule() -> None:
    assert retry_command(failed(2)) == "acr-sync retry cri-src123/team-a/web:v1.2 --rule prod-to-sh"


@pytest.mark.parametrize(
    ("error_class", "phrase"),
    [
        ("task_error", "sync task failed"),
        ("mismatch", "verification mismatch"),
        ("canceled", "sync task cancelled"),
        ("stuck", "sync task stuck"),
        ("submit_rejected", "sync task refused"),
        ("something_new", "replication failed"),
    ],
)
def test_each_kind_of_failure_has_its_own_title(error_class: str, phrase: str) -> None:
    message = render_failure(only_group(failed(1, error_class=error_class)), NOW)
    assert phrase in message.title
    assert phrase in message.markdown


def test_mismatch_shows_expected_and_found_digests() -> None:
    # GIVEN a verification mismatch with the digest the watcher found at the destination
    entry = failed(1, error_class="mismatch", state=State.MISMATCH, extra={FOUND_DIGEST_KEY: OTHER_DIGEST})
    # WHEN rendered  THEN both digests are named
    text = render_failure(only_group(entry), NOW).markdown
    assert f"expected digest `{DIGEST}`, found `{OTHER_DIGEST}`" in text


def test_stuck_task_shows_submission_time_and_deadline() -> None:
    entry = failed(1, error_class="stuck", extra={"deadline": str(T0 - 60)})
    text = render_failure(only_group(entry), NOW).markdown
    assert "submitted 2026-05-01T07:50:00Z; no terminal state by 2026-05-01T07:59:00Z" in text


def test_cancelled_task_says_it_is_not_retried_automatically() -> None:
    text = render_failure(only_group(failed(1, error_class="canceled")), NOW).markdown
    assert "CANCELED" in text
    assert "not retried automatically" in text


def test_free_text_from_acr_cannot_break_the_markdown_or_the_size() -> None:
    # GIVEN a TaskIssue with newlines, backticks and 5,000 characters
    entry = failed(1, task_issue="line1\n## heading `code`" + "x" * 5_000)
    # WHEN rendered
    text = render_failure(only_group(entry), NOW).markdown
    # THEN it is one line, without backticks, cut with an ellipsis
    issue_line = next(line for line in text.splitlines() if "TaskIssue" in line)
    assert "## heading 'code'" in issue_line
    assert issue_line.endswith("…")
    assert len(issue_line) < 400


def test_many_large_entries_stay_under_the_byte_budget() -> None:
    # GIVEN 500 failures with long multi-byte issues
    entries = [failed(i, task_issue="镜像同步失败" * 100) for i in range(500)]
    # WHEN rendered
    text = render_failure(only_group(*entries), NOW).markdown
    # THEN the text fits the budget and counts what it left out
    assert len(text.encode("utf-8")) <= TEXT_BUDGET_BYTES
    shown = text.count("- retry: `acr-sync retry")
    assert f"…and {500 - shown} more" in text


def test_resolved_message_lists_what_recovered() -> None:
    # GIVEN two replications that failed and later verified
    entries = [failed(i, state=State.VERIFIED, error_class="") for i in (1, 2)]
    # WHEN rendered
    message = render_resolved(entries, NOW)
    # THEN it says resolved and names each source, destination, digest and task
    assert "resolved ×2" in message.title
    for fact in ("cri-src123/team-a/web:v1.1", "cri-dst456@cn-shanghai/team-a/web:v1.2", DIGEST, "rst-0002"):
        assert fact in message.markdown
    assert "**verified**" in message.markdown


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window_s"):
        group_failures([failed(1)], window_s=0)


def test_resolved_message_title_stays_short_with_many_rules() -> None:
    entries = [failed(i, rule=f"rule-{i}", state=State.VERIFIED) for i in range(8)]
    title = render_resolved(entries).title
    assert title == "acr-sync: resolved ×8 (rule-0, rule-1, rule-2 +5)"
