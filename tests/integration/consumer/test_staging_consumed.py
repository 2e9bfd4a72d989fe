"""Staged copies are consumed, and requests stay idempotent after cleanup (real Kafka, the
stack's S3, the consumer in-process so its S3 calls can be counted).

A stream of 200 requests (2 files each; every 10th request's selfie corrupted in staging):
afterwards the staging bucket holds exactly the 20 failed files' blobs and every committed
result is unchanged. Replaying the failed ones (blobs repaired) succeeds and empties the
staging area. Republishing the 180 succeeded requests under the same request_ids succeeds
with `already_stored` and no read of the staging bucket at all. A request naming another
user's staged blobs fails them with `source_not_allowed` and deletes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import gevent

from producer_lib.dir_staging import DirStager
from producer_lib.s3_staging import S3Stager
from tests.integration.consumer_helpers import RigFactory, encode, request, wait_for

REQUESTS = 200
FAILING_EVERY = 10
PREFIX = "staged/"


class _S3Calls:
    """Counts the S3 calls on a client that touch the staging bucket, by operation, and
    those of them S3 answered with success."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.bucket = bucket
        self.counts: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        client.meta.events.register("before-parameter-build.s3", self._seen)
        client.meta.events.register("after-call.s3", self._answered)

    def _touches_staging(self, params: dict[str, Any]) -> bool:
        source = params.get("CopySource")
        copy_bucket = source.get("Bucket") if isinstance(source, dict) else None
        return self.bucket in (params.get("Bucket"), copy_bucket)

    def _seen(self, model: Any, params: dict[str, Any], context: Any, **_kw: Any) -> None:
        if self._touches_staging(params):
            self.counts[model.name] += 1
            context["touches_staging"] = True  # the same call's after-call sees it

    def _answered(self, model: Any, http_response: Any, context: Any, **_kw: Any) -> None:
        if context.get("touches_staging") and http_response.status_code < 300:
            self.answered[model.name] += 1

    def source_reads(self) -> int:
        """Calls that read a staged blob's bytes. A HEAD, or the type check's GET sent with
        it (upload_engine/early_read.py) answered 404, only finds out it is gone."""
        return sum(self.answered[n] for n in ("GetObject", "CopyObject"))

    def clear(self) -> None:
        self.counts.clear()
        self.answered.clear()


def _bytes(n: int, file_type: str) -> bytes:
    return f"%PDF-1.4 {file_type} of user {n} ".encode() * 8


def _staged_keys(s3: Any, bucket: str) -> set[str]:
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=PREFIX)
    return {o["Key"] for o in listing.get("Contents", [])}


def _results_by_id(records: list[Any]) -> dict[str, list[dict[str, Any]]]:
    by_id: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        body = record.json()
        by_id.setdefault(body["request_id"], []).append(body)
    return by_id


def test_two_hundred_requests_then_replay_then_republish(
    consumer_rig: RigFactory, make_bucket: Any, s3: Any
) -> None:
    rig = consumer_rig()
    staging = make_bucket("staging")
    env = rig.env(UPLOAD_STREAM_STAGING_ALLOWLIST=f"s3://{staging}/{PREFIX}")
    calls = _S3Calls(s3, staging)
    rig.start_in_process(env)
    stager = S3Stager(staging, PREFIX, client=s3)

    requests: dict[str, dict[str, Any]] = {}
    corrupted: dict[str, tuple[str, bytes]] = {}  # request_id -> (key, the right bytes)
    for n in range(REQUESTS):
        rid = f"req-{n:03d}"
        files: dict[str, Any] = {}
        for file_type in ("passport", "selfie"):
            data = _bytes(n, file_type)
            ref = stager.stage(
                data,
                content_type="application/pdf",
                filename=f"{file_type}.pdf",
                user_id=f"user{n}",
            )
            files[file_type] = ref.model_dump()
            if file_type == "selfie" and n % FAILING_EVERY == 0:
                key = ref.uri.removeprefix(f"s3://{staging}/")
                s3.put_object(Bucket=staging, Key=key, Body=data[::-1])  # same size, other bytes
                corrupted[rid] = (key, data)
        requests[rid] = request(rid, f"user{n}", files)
    failing = len(corrupted)
    results = rig.reader("results")

    rig.publish((r["user_id"].encode(), encode(r), None) for r in requests.values())
    first = results.wait(lambda rs: len(rs) >= REQUESTS, 120, f"{REQUESTS} results")

    by_id = _results_by_id(first)
    assert sorted(by_id) == sorted(requests) and all(len(v) == 1 for v in by_id.values())
    statuses = Counter(v[0]["status"] for v in by_id.values())
    assert statuses == {"succeeded": REQUESTS - failing, "partial": failing}
    for rid in corrupted:
        assert by_id[rid][0]["failures"]["selfie"]["code"] == "checksum_mismatch"
    # The consumer deletes after commit, in the background: wait for it to settle.
    wanted = {key for key, _data in corrupted.values()}
    wait_for(lambda: _staged_keys(s3, staging) == wanted, 60, "staging = the failed blobs")
    print(f"\nstaging after {REQUESTS} requests: {len(wanted)} blobs = the {failing} failed files")

    # Every committed result unchanged: a fresh reader sees the same records, one each.
    again = rig.reader("results")
    again.wait(lambda rs: len(rs) >= REQUESTS, 60, "the results again")
    assert {r.json()["request_id"]: r.value for r in again.records} == {
        r.json()["request_id"]: r.value for r in first
    }
    for body in (v[0] for v in by_id.values()):
        for obj in body["objects"].values():
            assert s3.head_object(Bucket=obj["bucket"], Key=obj["key"])["ContentLength"] > 0

    # Replay the failed ones, from the results' failed_sources, once their blobs are right.
    for key, data in corrupted.values():
        s3.put_object(Bucket=staging, Key=key, Body=data)
    replays = [
        request(
            f"{rid}-replay",
            by_id[rid][0]["user_id"],
            by_id[rid][0]["failed_sources"],
            attempt=2,
            replay_of=rid,
        )
        for rid in corrupted
    ]
    rig.publish((r["user_id"].encode(), encode(r), None) for r in replays)
    results.wait(lambda rs: len(rs) >= REQUESTS + failing, 60, "the replays' results")
    replayed = _results_by_id(results.records)
    assert all(replayed[r["request_id"]][0]["status"] == "succeeded" for r in replays)
    wait_for(lambda: not _staged_keys(s3, staging), 60, "an empty staging area")

    # Republish every succeeded request under its own request_id: no staged blob is left,
    # yet each succeeds, unread.
    succeeded = [rid for rid in requests if rid not in corrupted]
    # The counter sees the consumer's calls: the first pass read every staged blob.
    assert calls.counts["HeadObject"] >= 2 * REQUESTS and calls.counts["DeleteObject"] > 0
    print(
        "staging-bucket calls on the shared client (the test's own PUTs and LISTs too) "
        f"before republishing: {dict(calls.counts)}"
    )
    calls.clear()
    rig.publish(
        (requests[rid]["user_id"].encode(), encode(requests[rid]), None) for rid in succeeded
    )
    total = REQUESTS + failing + len(succeeded)
    results.wait(lambda rs: len(rs) >= total, 120, "the republished results")
    latest = _results_by_id(results.records)
    for rid in succeeded:
        original, republished = latest[rid]
        assert republished["status"] == "succeeded"
        assert republished["urls"] == original["urls"]
        assert republished["already_stored"] == ["passport", "selfie"]
    print(
        f"republished {len(succeeded)} succeeded requests: all succeeded, "
        f"staging-bucket calls on the shared client since: {dict(calls.counts) or 0}"
    )
    assert calls.source_reads() == 0, (calls.counts, calls.answered)
    # One HEAD per republished file found its staged blob gone (with it, at most the type
    # check's GET of the head, also answered 404); nothing more was asked.
    assert calls.counts["HeadObject"] == 2 * len(succeeded), calls.counts
    assert calls.counts["GetObject"] <= 2 * len(succeeded), calls.counts
    assert calls.answered["HeadObject"] == 0, calls.answered


def test_directory_staging_is_consumed_the_same_way(consumer_rig: RigFactory) -> None:
    rig = consumer_rig()
    rig.start_in_process()
    stager = DirStager(rig.staging)
    good = stager.stage(b"%PDF-1.4 a good passport", content_type="application/pdf", user_id=1)
    bad_data = b"%PDF-1.4 a selfie, soon corrupted"
    bad = stager.stage(bad_data, content_type="application/pdf", user_id=1)
    Path(bad.uri.removeprefix("file://")).write_bytes(bad_data[::-1])
    results = rig.reader("results")
    body = request("dir-1", "1", {"passport": good.model_dump(), "selfie": bad.model_dump()})

    rig.publish([(b"1", encode(body), None)])
    (first,) = results.wait(lambda rs: len(rs) >= 1, 60, "the result")

    assert first.json()["status"] == "partial"
    left = lambda: sorted(p.name for p in rig.staging.rglob("*") if p.is_file())  # noqa: E731
    wait_for(lambda: left() == [Path(bad.uri).name], 30, "only the failed blob left")

    rig.publish([(b"1", encode(body | {"files": {"passport": good.model_dump()}}), None)])
    results.wait(lambda rs: len(rs) >= 2, 60, "the republished result")
    republished = results.records[1].json()
    assert republished["status"] == "succeeded"
    assert republished["already_stored"] == ["passport"]
    assert hashlib.sha256(b"%PDF-1.4 a good passport").hexdigest() in json.dumps(
        republished["urls"]
    )


def test_a_request_naming_another_users_staged_blobs_deletes_nothing(
    consumer_rig: RigFactory, make_bucket: Any, s3: Any
) -> None:
    """The hostile case: any producer with write access publishes a request for its own
    user that names the victim's staged keys (S3 and directory). Those files fail with
    `source_not_allowed`; nothing is read into the attacker's namespace, nothing deleted;
    the victim's own request then consumes them as usual."""
    rig = consumer_rig()
    staging = make_bucket("staging")
    rig.start_in_process(
        rig.env(UPLOAD_STREAM_STAGING_ALLOWLIST=f"s3://{staging}/{PREFIX},file://{rig.staging}/")
    )
    victim = {
        "passport": S3Stager(staging, PREFIX, client=s3).stage(
            b"%PDF-1.4 the victim's passport", content_type="application/pdf", user_id="victim"
        ),
        "selfie": DirStager(rig.staging).stage(
            b"%PDF-1.4 the victim's selfie", content_type="application/pdf", user_id="victim"
        ),
    }
    files = {k: ref.model_dump() for k, ref in victim.items()}
    results = rig.reader("results")

    rig.publish([(b"mallory", encode(request("steal-1", "mallory", files)), None)])
    (stolen,) = results.wait(lambda rs: len(rs) >= 1, 60, "the hostile request's result")

    body = stolen.json()
    assert body["status"] == "failed" and body["urls"] == {}
    assert {k: f["code"] for k, f in body["failures"].items()} == {
        "passport": "source_not_allowed",
        "selfie": "source_not_allowed",
    }
    gevent.sleep(1.0)  # a delete queued by that commit would have run by now
    selfie = Path(victim["selfie"].uri.removeprefix("file://"))
    passport_key = victim["passport"].uri.removeprefix(f"s3://{staging}/")
    assert _staged_keys(s3, staging) == {passport_key} and selfie.exists()

    rig.publish([(b"victim", encode(request("own-1", "victim", files)), None)])
    results.wait(lambda rs: len(rs) >= 2, 60, "the victim's result")
    assert results.records[1].json()["status"] == "succeeded"
    wait_for(lambda: not _staged_keys(s3, staging), 30, "the victim's S3 blob consumed")
    wait_for(lambda: not selfie.exists(), 30, "the victim's staged file consumed")
    listing = s3.list_objects_v2(Bucket=rig.bucket, Prefix="kyc_documents/user_mallory/")
    assert listing.get("KeyCount", 0) == 0
