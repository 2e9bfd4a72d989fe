"""The replay plan: latest result per lineage, code selection, lineage ids, skips."""

from collections.abc import Mapping
from datetime import UTC, datetime

from schemas import (
    BlobRef,
    FileFailure,
    FileFailureCode,
    RequestError,
    RequestErrorCode,
    StoredObject,
    UploadRequest,
    UploadResult,
    encode_request,
    encode_result,
    request_headers,
    status_for,
)
from upload_stream_cli.ops.dlq_reader import parse_dlq_record
from upload_stream_cli.ops.filters import RecordFilter
from upload_stream_cli.ops.history import History
from upload_stream_cli.ops.replay import (
    Outcome,
    PlanContext,
    apply_limit,
    plan_from_dlq,
    plan_from_results,
)
from upload_stream_cli.ops.topics import TopicRecord

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
SHA = "ab" * 32


def blob(name: str) -> BlobRef:
    return BlobRef(
        uri=f"s3://staging-bucket/in/{name}.jpg",
        size=10,
        sha256=SHA,
        content_type="image/jpeg",
        filename=f"{name}.jpg",
    )


def result(
    request_id: str,
    *,
    failures: Mapping[str, FileFailureCode] = {},
    uploaded: tuple[str, ...] = (),
    attempt: int = 1,
    replay_of: str | None = None,
    user_id: str = "u1",
    sources: bool = True,
    error: RequestErrorCode | None = None,
    finished_at: datetime = T0,
) -> UploadResult:
    objects = {
        t: StoredObject(
            bucket="dest",
            key=f"general/user_{user_id}/{t}/{SHA}.jpg",
            size=10,
            sha256=SHA,
            content_type="image/jpeg",
            etag='"e"',
            version_id=None,
        )
        for t in uploaded
    }
    return UploadResult(
        request_id=request_id,
        user_id=user_id,
        attempt=attempt,
        replay_of=replay_of,
        metadata={"case": "k-1"},
        bucket="dest",
        status=status_for(uploaded=len(objects), failed=len(failures), rejected=error is not None),
        urls={t: o.url for t, o in objects.items()},
        objects=objects,
        failures={t: FileFailure.of(c, "boom") for t, c in failures.items()},
        error=RequestError(code=error, message="no") if error else None,
        started_at=finished_at,
        finished_at=finished_at,
        duration_ms=0,
        failed_sources={t: blob(t) for t in failures} if sources else {},
    )


def history_of(*results: UploadResult, replay_ids: tuple[str, ...] = ()) -> History:
    history = History()
    for offset, item in enumerate(results):
        history.add_result(TopicRecord("results", 0, offset, encode_result(item)))
    history.replay_ids.update(replay_ids)
    return history


def ctx(history: History, include_permanent: bool = False, **filters: object) -> PlanContext:
    return PlanContext(
        history=history,
        selected=RecordFilter(**filters),  # type: ignore[arg-type]
        now=NOW,
        include_permanent=include_permanent,
    )


THROTTLED = FileFailureCode.THROTTLED
NOT_FOUND = FileFailureCode.DESTINATION_NOT_FOUND


def test_latest_result_per_lineage_wins_whatever_the_read_order() -> None:
    history = history_of(
        result("a", failures={"selfie": THROTTLED}),
        result("a.r3", failures={"selfie": THROTTLED}, attempt=3, replay_of="a"),
        result("a.r2", failures={"selfie": THROTTLED, "id": THROTTLED}, attempt=2, replay_of="a"),
        result("b", uploaded=("id",)),
    )
    assert list(history.lineages) == ["a", "b"]
    assert history.lineages["a"].latest.request_id == "a.r3"
    assert history.lineages["a"].latest_failed is not None
    assert history.lineages["a"].latest_failed.request_id == "a.r3"
    assert history.lineages["a"].failed_source == "results 0:1"
    assert history.lineages["b"].latest_failed is None

    [decision] = plan_from_results(ctx(history))
    assert decision.outcome is Outcome.PUBLISHED
    assert decision.source == "results 0:1"
    assert decision.replay is not None
    assert decision.replay.request_id == "a.r4"
    assert decision.replay.attempt == 4
    assert decision.replay.replay_of == "a"
    assert list(decision.replay.files) == ["selfie"]


def test_replay_request_keeps_what_the_result_knows_and_takes_only_failed_files() -> None:
    history = history_of(result("req-1", failures={"selfie": THROTTLED}, uploaded=("id",)))
    [decision] = plan_from_results(ctx(history))
    assert decision.replay == UploadRequest(
        schema_version=1,
        request_id="req-1.r2",
        user_id="u1",
        file_category="general",
        files={"selfie": blob("selfie")},
        bucket="dest",
        created_at=NOW,
        attempt=2,
        replay_of="req-1",
        metadata={"case": "k-1"},
    )


def test_a_later_success_skips_the_lineage() -> None:
    history = history_of(
        result("a", failures={"selfie": THROTTLED}),
        result("a.r2", uploaded=("selfie",), attempt=2, replay_of="a"),
    )
    [decision] = plan_from_results(ctx(history))
    assert (decision.outcome, decision.request_id, decision.replay) == (
        Outcome.SKIPPED_SUCCEEDED_LATER,
        "a",
        None,
    )


def test_an_already_published_replay_is_skipped() -> None:
    history = history_of(result("a", failures={"selfie": THROTTLED}), replay_ids=("a.r2",))
    [decision] = plan_from_results(ctx(history))
    assert decision.outcome is Outcome.SKIPPED_ALREADY_REPLAYED
    assert decision.detail == "its replay is already published"


def test_permanent_failures_need_code_or_include_permanent() -> None:
    history = history_of(result("a", failures={"selfie": NOT_FOUND, "id": THROTTLED}))
    [default] = plan_from_results(ctx(history))
    assert default.replay is not None
    assert list(default.replay.files) == ["id"]

    [named] = plan_from_results(ctx(history, codes=frozenset({"destination_not_found"})))
    assert named.replay is not None
    assert list(named.replay.files) == ["selfie"]

    [everything] = plan_from_results(ctx(history, include_permanent=True))
    assert everything.replay is not None
    assert sorted(everything.replay.files) == ["id", "selfie"]

    only_permanent = history_of(result("b", failures={"selfie": NOT_FOUND}))
    [skipped] = plan_from_results(ctx(only_permanent))
    assert skipped.outcome is Outcome.SKIPPED_PERMANENT
    assert skipped.detail == (
        "only permanent failures (destination_not_found); "
        "name them with --code or pass --include-permanent"
    )


def test_code_filter_leaves_out_lineages_without_that_code() -> None:
    history = history_of(result("a", failures={"selfie": THROTTLED}))
    assert plan_from_results(ctx(history, codes=frozenset({"timeout"}))) == []


def test_missing_failed_sources_are_not_replayable() -> None:
    history = history_of(result("a", failures={"selfie": THROTTLED}, sources=False))
    [decision] = plan_from_results(ctx(history))
    assert (decision.outcome, decision.detail) == (
        Outcome.NOT_REPLAYABLE,
        "no failed_sources for selfie",
    )


def test_request_level_rejections_point_to_the_dlq() -> None:
    history = history_of(result("a", error=RequestErrorCode.BUCKET_NOT_ALLOWED))
    [decision] = plan_from_results(ctx(history))
    assert (decision.outcome, decision.detail) == (
        Outcome.NOT_REPLAYABLE,
        "rejected as a whole (bucket_not_allowed); replay it with --from dlq",
    )


def test_result_filters_by_id_user_time_and_file_type() -> None:
    history = history_of(
        result("a", failures={"selfie": THROTTLED}, user_id="u1"),
        result("b", failures={"id": THROTTLED}, user_id="u2", finished_at=NOW),
    )

    def ids(**filters: object) -> list[str | None]:
        return [d.request_id for d in plan_from_results(ctx(history, **filters))]  # type: ignore[arg-type]

    assert ids() == ["a", "b"]
    assert ids(request_ids=frozenset({"b"})) == ["b"]
    assert ids(user_ids=frozenset({"u1"})) == ["a"]
    assert ids(since=NOW) == ["b"]
    assert ids(until=T0) == ["a"]
    assert ids(file_types=frozenset({"id"})) == ["b"]


def test_limit_turns_the_excess_into_skipped_limit() -> None:
    history = history_of(*(result(f"r{i}", failures={"x": THROTTLED}) for i in range(4)))
    limited = apply_limit(plan_from_results(ctx(history)), 2)
    assert [d.outcome for d in limited] == [
        Outcome.PUBLISHED,
        Outcome.PUBLISHED,
        Outcome.SKIPPED_LIMIT,
        Outcome.SKIPPED_LIMIT,
    ]
    assert limited[3].detail == "over --limit 2"


def dead_letter(offset: int, value: bytes, code: str) -> TopicRecord:
    return TopicRecord(
        "dlq", 1, offset, value, headers=[("dlq_reason_code", code.encode())], timestamp_ms=0
    )


def request(request_id: str, attempt: int = 1, replay_of: str | None = None) -> UploadRequest:
    return UploadRequest(
        schema_version=1,
        request_id=request_id,
        user_id="u7",
        files={"selfie": blob("selfie"), "id": blob("id")},
        bucket="other-bucket",
        reply_topic="replies.kyc",
        max_workers=3,
        created_at=T0,
        attempt=attempt,
        replay_of=replay_of,
        metadata={"k": "v"},
    )


def test_dlq_plan_replays_what_decodes_and_reports_the_rest() -> None:
    records = [
        dead_letter(0, b"\x00\xffgarbage", "invalid_json"),
        dead_letter(1, b'{"schema_version": 1, "request_id": "bad"}', "invalid_request"),
        dead_letter(2, encode_request(request("ok-1")), "bucket_not_allowed"),
    ]
    items = [parse_dlq_record(r) for r in records]
    decisions = plan_from_dlq(items, ctx(History()))
    assert [(d.outcome, d.source, d.request_id) for d in decisions] == [
        (Outcome.NOT_REPLAYABLE, "dlq 1:0", None),
        (Outcome.STILL_INVALID, "dlq 1:1", "bad"),
        (Outcome.PUBLISHED, "dlq 1:2", "ok-1"),
    ]
    assert decisions[0].detail == "undecodable value <9 bytes hex:00ff67617262616765>"
    assert decisions[1].detail.startswith("invalid_request: ")
    assert decisions[2].replay == request("ok-1").model_copy(
        update={"request_id": "ok-1.r2", "attempt": 2, "replay_of": "ok-1", "created_at": NOW}
    )


def test_dlq_plan_replays_only_the_latest_attempt_of_a_lineage() -> None:
    records = [
        dead_letter(0, encode_request(request("x", 2, "x0")), "bucket_not_allowed"),
        dead_letter(1, encode_request(request("x0")), "bucket_not_allowed"),
        dead_letter(2, encode_request(request("x0.r3", 3, "x0")), "bucket_not_allowed"),
    ]
    decisions = plan_from_dlq([parse_dlq_record(r) for r in records], ctx(History()))
    assert [d.outcome for d in decisions] == [
        Outcome.SKIPPED_ALREADY_REPLAYED,
        Outcome.SKIPPED_ALREADY_REPLAYED,
        Outcome.PUBLISHED,
    ]
    assert decisions[2].replay is not None
    assert (decisions[2].replay.request_id, decisions[2].replay.attempt) == ("x0.r4", 4)


def test_dlq_plan_skips_succeeded_later_and_already_replayed() -> None:
    succeeded = history_of(
        result("d1.r2", uploaded=("selfie",), attempt=2, replay_of="d1", user_id="u7")
    )
    items = [parse_dlq_record(dead_letter(0, encode_request(request("d1")), "bucket_not_allowed"))]
    [skip] = plan_from_dlq(items, ctx(succeeded))
    assert skip.outcome is Outcome.SKIPPED_SUCCEEDED_LATER

    [again] = plan_from_dlq(items, ctx(History(replay_ids={"d1.r2"})))
    assert again.outcome is Outcome.SKIPPED_ALREADY_REPLAYED


def test_dlq_file_type_filter_narrows_the_replay() -> None:
    items = [parse_dlq_record(dead_letter(0, encode_request(request("f1")), "bucket_not_allowed"))]
    [decision] = plan_from_dlq(items, ctx(History(), file_types=frozenset({"id"})))
    assert decision.replay is not None
    assert list(decision.replay.files) == ["id"]


def test_history_remembers_only_replay_ids_from_the_value() -> None:
    history = History()
    plain = request("orig")
    replay = request("orig.r2", 2, "orig")
    forged = TopicRecord(
        "requests", 0, 2, b'{"request_id": "other"}', headers=[("correlation_id", b"x.r2")]
    )
    history.add_request(
        TopicRecord("requests", 0, 0, encode_request(plain), headers=request_headers(plain))
    )
    history.add_request(
        TopicRecord("requests", 0, 1, encode_request(replay), headers=request_headers(replay))
    )
    history.add_request(forged)
    history.add_request(TopicRecord("requests", 0, 3, b"\xff"))
    history.add_request(TopicRecord("requests", 0, 4, None))
    assert history.replay_ids == {"orig.r2"}


def test_history_counts_unreadable_results() -> None:
    history = History()
    history.add_result(TopicRecord("results", 0, 0, b"{}"))
    history.add_result(TopicRecord("results", 0, 1, None))
    assert (history.unreadable_results, history.lineages) == (2, {})
