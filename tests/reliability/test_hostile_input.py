"""Hostile input: the whole corpus (`hostile.py`) through one consumer process.

Each case's outcome is checked exactly: its dead letter's `dlq_reason_code`, its result's
`error.code` or per-file codes, where the result went, what traceparent it carries. The
consumer must still be alive and serving afterwards, and nothing may be written to any
bucket except the keys the corpus expects.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.integration.consumer_helpers import Read, RigFactory, encode, request
from tests.reliability import hostile
from tests.reliability.harness import Publisher, TimedReader, all_keys, stage_bytes
from tests.reliability.report import SCOREBOARD, Row


def _check_dead(case: hostile.Case, dead: list[Read], topics: dict[str, str]) -> list[str]:
    if case.dlq is None:
        codes = [d.header("dlq_reason_code") for d in dead]
        return [f"unexpected dead letter {codes}"] if dead else []
    if len(dead) != 1:
        return [f"{len(dead)} dead letters, expected 1 ({case.dlq})"]
    letter, problems = dead[0], []
    codes = [v for k, v in letter.headers if k == "dlq_reason_code"]
    if codes != [case.dlq.encode()]:
        problems.append(f"dlq_reason_code {codes}, expected [{case.dlq}]")
    omitted = letter.header("dlq_value_omitted") == "too_large"
    if letter.value != case.value and not omitted:
        problems.append("dead letter value differs from the original")
    if letter.header("dlq_source_topic") != topics["requests"]:
        problems.append("dlq_source_topic wrong")
    return problems


def _check_result(case: hostile.Case, record: Read, topics: dict[str, str]) -> list[str]:
    result, problems = record.json(), []
    want_topic = case.reply_topic or topics["results"]
    if record.topic != want_topic:
        problems.append(f"result on {record.topic}, expected {want_topic}")
    if record.header("correlation_id") != case.result_id:
        problems.append("correlation_id is not the request_id")
    if record.header("traceparent") != case.traceparent:
        problems.append(f"traceparent {record.header('traceparent')!r}")
    error = (result.get("error") or {}).get("code")
    if error != case.error:
        problems.append(f"error {error}, expected {case.error}")
    if case.error:
        if result["status"] != "failed":
            problems.append(f"status {result['status']} for a rejected request")
        return problems
    got = dict.fromkeys(result["objects"])
    got.update({ft: f["code"] for ft, f in result["failures"].items()})
    if got != case.files:
        problems.append(f"files {got}, expected {case.files}")
    written = {(o["bucket"], o["key"]) for o in result["objects"].values()}
    if written != case.keys:
        problems.append(f"objects {sorted(written)}, expected {sorted(case.keys)}")
    if case.metadata is not None and result["metadata"] != case.metadata:
        problems.append("metadata not echoed exactly")
    return problems


def _check(
    case: hostile.Case, results: list[Read], dead: list[Read], topics: dict[str, str]
) -> list[str]:
    """Every way `case` differs from what it declares (empty: handled as declared)."""
    problems = _check_dead(case, dead, topics)
    if case.result_id is None:
        return [*problems, f"{len(results)} unexpected results"] if results else problems
    if len(results) != 1:
        return [*problems, f"{len(results)} results, expected 1"]
    return problems + _check_result(case, results[0], topics)


@pytest.mark.timeout(240)
def test_every_hostile_case_gets_its_declared_outcome_and_nothing_else_is_written(
    consumer_rig: RigFactory, make_bucket: Any, s3: Any, tmp_path: Path
) -> None:
    rig = consumer_rig("alt")
    topics, dest, staging = rig.topics, rig.bucket, rig.staging
    alt_bucket, s3_staging = make_bucket("alt"), make_bucket("stg")
    outside = tmp_path / "outside"
    outside.mkdir()
    ctx = hostile.Context(
        staging=staging,
        outside=outside,
        dest=dest,
        alt_bucket=alt_bucket,
        s3_staging=s3_staging,
        alt_topic=topics["alt"],
        put_staged=lambda key, data: s3.put_object(Bucket=s3_staging, Key=key, Body=data),
    )
    cases = hostile.build(ctx)
    row = SCOREBOARD.add(Row("hostile input", faults="crafted events"))
    row.hostile_tried = len(cases)
    env = rig.env(
        UPLOAD_STREAM_ALLOWED_BUCKETS=f"{dest},{alt_bucket}",
        UPLOAD_STREAM_ALLOWED_REPLY_TOPICS=f"{topics['results']},{topics['alt']}",
        UPLOAD_STREAM_STAGING_ALLOWLIST=f"file://{staging}/,s3://{s3_staging}/staged/",
        UPLOAD_STREAM_MAX_FILE_BYTES=str(ctx.max_file_bytes),
        UPLOAD_STREAM_ALLOWED_CONTENT_TYPES=",".join(ctx.allowed_content_types),
    )
    before = all_keys(s3)
    consumer = rig.start(env, "hostile")
    reader = rig.reader("results", "alt", "dlq", cls=TimedReader)
    plain = Publisher(rig.bootstrap, topics["requests"])
    big = Publisher(
        rig.bootstrap,
        topics["requests"],
        {"compression.type": "gzip", "message.max.bytes": 20_000_000},
    )
    for case in cases:
        target = big if case.producer else plain
        target.send(case.key.decode(), case.key, case.value, case.headers)
    plain.flush()
    big.flush()
    want_results = sum(1 for c in cases if c.result_id is not None)
    want_dlq = sum(1 for c in cases if c.dlq is not None)

    def arrived() -> bool:
        results = len(reader.of(topics["results"])) + len(reader.of(topics["alt"]))
        return results >= want_results and len(reader.of(topics["dlq"])) >= want_dlq

    # Still alive, and still serving: a normal request after the corpus succeeds.
    normal = stage_bytes(staging, "after.pdf", b"a normal request after the corpus")
    plain.send(
        "after", b"after", encode(request("after-corpus", "someone", {"passport": normal.ref}))
    )
    plain.flush()
    reader.wait(
        lambda rs: any(
            r.topic == topics["results"] and r.json().get("request_id") == "after-corpus"
            for r in rs
        ),
        150,
        "the normal request after the corpus",
    )
    # Then until everything declared has arrived, or nothing more comes for 10 s (the
    # per-case checks below then say exactly what is missing).
    quiet_since, count = time.monotonic(), len(reader.records)
    while not arrived() and time.monotonic() - quiet_since < 10:
        reader.poll(0.5)
        if len(reader.records) != count:
            quiet_since, count = time.monotonic(), len(reader.records)
    reader.poll(1.0)
    alive = consumer.proc.poll() is None
    after = all_keys(s3)

    results_by_id: dict[str, list[Read]] = defaultdict(list)
    for record in reader.of(topics["results"]) + reader.of(topics["alt"]):
        results_by_id[record.json()["request_id"]].append(record)
    dead_by_key: dict[bytes | None, list[Read]] = defaultdict(list)
    for record in reader.of(topics["dlq"]):
        dead_by_key[record.key].append(record)
    failures = {}
    for case in cases:
        problems = _check(
            case,
            results_by_id.pop(case.result_id, []) if case.result_id else [],
            dead_by_key.pop(case.key, []),
            topics,
        )
        if problems:
            failures[case.name] = problems
    normal_result = results_by_id.pop("after-corpus")[0].json()
    stray = {rid: len(rs) for rid, rs in results_by_id.items()}
    stray_dead = {k: len(v) for k, v in dead_by_key.items()}
    expected_keys = set().union(*(c.keys for c in cases))
    expected_keys |= {(o["bucket"], o["key"]) for o in normal_result["objects"].values()}
    written = after - before
    row.hostile_handled = len(cases) - len(failures)
    row.sent = len(cases) + 1
    row.committed = (
        sum(1 for c in cases if c.result_id)
        - sum(1 for c in cases if c.result_id and c.name in failures)
        + 1
    )
    row.notes = (
        f"{Counter(c.kind for c in cases)}; {len(written)} objects written, "
        f"{len(written - expected_keys)} unexpected; alive after: {alive}"
    )
    row.notes = row.notes.replace("Counter(", "").replace(")", "")
    assert failures == {}, json.dumps(failures, indent=1, ensure_ascii=True)
    assert stray == {} and stray_dead == {}
    assert alive and normal_result["status"] == "succeeded"
    assert written == expected_keys, (
        sorted(written - expected_keys),
        sorted(expected_keys - written),
    )
    assert consumer.stop() == 0
