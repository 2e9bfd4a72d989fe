"""Redelivery after a crash, with staged copies consumed (the consumer as a real subprocess,
`kill -9`, directory staging in the users' scopes, cleanup on as by default).

The consumer deletes a staged blob only after the transaction holding its result and its
offset committed, so in exactly_once a request whose blobs are gone is never redelivered
by a crash alone. The first test makes that state anyway, as an operator's offset reset
(or offsets lost with an expired group) would: commit, delete, `kill -9`, then rewind the
group's committed offsets to the start and restart. Every redelivered request succeeds
with `already_stored`, its staging directory empty, so no source can have been read.

The second kills a consumer mid-stream in both guarantees. In at_least_once the window is
real: a result is acknowledged and its blob deleted before the offset commit, so a kill in
between redelivers a request whose blob is gone. Either way no request may end with a
failure it did not have (no `source_not_found`): the good ones succeed, the corrupt ones
fail with their `checksum_mismatch` only. Staging ends holding the corrupt ones' blobs, plus
at most the blobs of requests the killed consumer had finished whose delete was still
queued when it died: deletion is best effort, and the sweep gets those.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import gevent
import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from producer_lib.dir_staging import DirStager
from tests.conftest import unique
from tests.integration.consumer_helpers import ConsumerRig, RigFactory, encode, request, wait_for
from upload_engine.offload import offload

CORRUPT_EVERY = 20


def _staged_files(rig: ConsumerRig) -> set[Path]:
    return {p for p in rig.staging.rglob("*") if p.is_file()}


def _stage_requests(
    rig: ConsumerRig, count: int, *, corrupt_every: int = 0
) -> tuple[list[tuple[bytes, bytes, None]], dict[str, Path], dict[str, Path]]:
    """`count` one-file requests staged in their users' scopes, and each one's blob; every
    `corrupt_every`th blob is overwritten with other bytes of the same size (a
    checksum_mismatch)."""
    stager = DirStager(rig.staging)
    records, blobs, corrupt = [], {}, {}
    for i in range(count):
        user, rid = f"user{i % 13}", f"req-{i:04d}"
        data = f"%PDF-1.4 document {i} of {user} ".encode() * 4
        ref = stager.stage(data, content_type="application/pdf", filename="p.pdf", user_id=user)
        path = blobs[rid] = Path(ref.uri.removeprefix("file://"))
        if corrupt_every and i % corrupt_every == 0:
            path.write_bytes(data[::-1])
            corrupt[rid] = path
        body = request(rid, user, {"passport": ref.model_dump()})
        records.append((user.encode(), encode(body), None))
    return records, blobs, corrupt


def _by_id(reader: Any) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in reader.of(reader.topics[0]):
        body = record.json()
        found[body["request_id"]].append(body)
    return found


def _rewind(bootstrap: str, group_id: str, topic: str, partitions: int) -> None:
    """The group's committed offsets back to 0: refused while the killed member still
    counts as a member (until its session times out), so asked again until it is gone."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    offsets = [TopicPartition(topic, p, 0) for p in range(partitions)]
    deadline = time.monotonic() + 60
    while True:
        futures = admin.alter_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group_id, offsets)]
        )
        try:
            done = offload(futures[group_id].result, 10)
            errors = [tp.error for tp in done.topic_partitions if tp.error is not None]
            if not errors:
                return
            problem: Exception = KafkaException(errors[0])
        except KafkaException as exc:
            problem = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"could not rewind the group: {problem}")
        gevent.sleep(0.5)


def test_redelivered_after_a_crash_with_its_blobs_deleted_succeeds_unread(
    consumer_rig: RigFactory,
) -> None:
    count = 30
    rig = consumer_rig()
    env = rig.env(UPLOAD_STREAM_TRANSACTIONAL_ID=unique("txn"))
    records, _, _ = _stage_requests(rig, count)
    reader = rig.reader("results")
    first = rig.start(env, "first")
    rig.publish(records)
    reader.wait(lambda _rs: len(_by_id(reader)) >= count, 90, "the first results")
    wait_for(lambda: not _staged_files(rig), 30, "every staged blob deleted after its commit")
    first.kill()
    assert first.proc.returncode == -9

    _rewind(rig.bootstrap, rig.group_id, rig.topics["requests"], 3)
    assert not _staged_files(rig)  # nothing left that a redelivery could read
    second = rig.start(env, "second")
    try:
        reader.wait(
            lambda _rs: sum(len(v) for v in _by_id(reader).values()) >= 2 * count,
            90,
            "every request redelivered",
        )
    finally:
        assert second.stop() == 0

    results = _by_id(reader)
    assert sorted(results) == [f"req-{i:04d}" for i in range(count)]
    for rid, (original, redelivered) in results.items():
        assert original["status"] == "succeeded" and not original.get("already_stored"), rid
        assert redelivered["status"] == "succeeded", redelivered
        assert redelivered["already_stored"] == ["passport"]
        assert redelivered["urls"] == original["urls"]
        assert redelivered["failures"] == {}


@pytest.mark.parametrize("guarantee", ["exactly_once", "at_least_once"])
def test_kill_9_mid_stream_with_cleanup_on_adds_no_failure(
    consumer_rig: RigFactory, guarantee: str
) -> None:
    count = 200
    rig = consumer_rig()
    env = rig.env(
        UPLOAD_STREAM_PROCESSING_GUARANTEE=guarantee,
        UPLOAD_STREAM_TRANSACTIONAL_ID=unique("txn"),
        UPLOAD_STREAM_MAX_IN_FLIGHT_REQUESTS="8",
    )
    records, blobs, corrupt = _stage_requests(rig, count, corrupt_every=CORRUPT_EVERY)
    rig.publish(records)
    reader = rig.reader("results")
    first = rig.start(env, "first")
    reader.wait(lambda _rs: len(_by_id(reader)) >= 40, 60, "40 results before the kill")
    first.kill()
    assert first.proc.returncode == -9
    reader.poll(2.0)  # what the killed consumer committed is visible by now
    finished_by_first = set(_by_id(reader))
    assert len(finished_by_first) < count
    good_blobs = {rid: path for rid, path in blobs.items() if rid not in corrupt}

    def left() -> set[str]:
        staged = _staged_files(rig)
        return {rid for rid, path in good_blobs.items() if path in staged}

    second = rig.start(env, "second")
    try:
        reader.wait(lambda _rs: len(_by_id(reader)) >= count, 120, "every request's result")
        # Only the kill may leave a good blob behind: the second consumer deletes all of its
        # own (waited for while it runs: a stop drops what is still queued, for the sweep).
        wait_for(lambda: left() <= finished_by_first, 60, "the second consumer's deletes")
    finally:
        assert second.stop() == 0
    reader.poll(1.0)  # anything committed late shows up now

    results = _by_id(reader)
    assert sorted(results) == [f"req-{i:04d}" for i in range(count)]
    if guarantee == "exactly_once":
        assert {rid: len(v) for rid, v in results.items() if len(v) != 1} == {}
    codes: Counter[str] = Counter()
    reused = 0
    for rid, bodies in results.items():
        for body in bodies:
            failures = {k: f["code"] for k, f in body["failures"].items()}
            codes.update(failures.values())
            if rid in corrupt:
                assert (body["status"], failures) == (
                    "failed",
                    {"passport": "checksum_mismatch"},
                ), body
            else:
                assert (body["status"], failures) == ("succeeded", {}), body
                reused += body.get("already_stored") == ["passport"]
    assert codes == {"checksum_mismatch": sum(len(results[rid]) for rid in corrupt)}
    assert set(corrupt.values()) <= _staged_files(rig)
    assert left() <= finished_by_first, sorted(left() - finished_by_first)
    duplicates = sum(len(v) - 1 for v in results.values())
    print(
        f"\n{guarantee}: {count} requests, {duplicates} redelivered results, {reused} of "
        f"them succeeded unread (already_stored), failures only {dict(codes)}, "
        f"{len(left())} good blobs left for the sweep by the kill"
    )
