"""End to end with the real consumer: a broken destination, then a fix, then a replay.

The consumer's default bucket does not exist, so 30 requests fail with
`destination_not_found` (a permanent code). After the bucket is created,
`replay --from results --code destination_not_found` must bring every file in exactly
once, each replay answered by a succeeded result pointing at its original; a second
replay must publish nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import unique
from tests.integration.consumer_helpers import (
    ConsumerRig,
    Reader,
    RigFactory,
    encode,
    request,
    stage,
)
from upload_stream_cli.main import run

COUNT = 30
FILE_TYPES = ("passport", "selfie")


def _results(reader: Reader, topic: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for record in reader.of(topic):
        value = record.json()
        assert value["request_id"] not in found, f"two results for {value['request_id']}"
        found[value["request_id"]] = value
    return found


def _all_keys(s3: Any, bucket: str) -> list[str]:
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
    return sorted(v["Key"] for page in pages for v in page.get("Versions", []))


def _env_shared_with_the_cli(rig: ConsumerRig, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The consumer's environment, whose Kafka address and topics the CLI run by the test
    (`run([...])`, in this process) is pointed at too."""
    env = rig.env(UPLOAD_STREAM_TRANSACTIONAL_ID=unique("txn"))
    for name in ("KAFKA_BOOTSTRAP_SERVERS", *(k for k in env if k.endswith("_TOPIC"))):
        monkeypatch.setenv(name, env[name])
    return env


def test_broken_destination_then_replay_uploads_every_file_exactly_once(
    consumer_rig: RigFactory,
    make_bucket: Any,
    s3: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The bucket is not created yet: the destination is broken.
    rig = consumer_rig(bucket=make_bucket("late-bucket", create=False))
    topics, bucket = rig.topics, rig.bucket
    originals = []
    for i in range(COUNT):
        user = f"user{i % 7}"
        files = {t: stage(rig.staging, f"{t} of {i}".encode(), f"{t}.pdf") for t in FILE_TYPES}
        originals.append((user.encode(), encode(request(f"req-{i:03d}", user, files)), None))
    rig.publish(originals)

    env = _env_shared_with_the_cli(rig, monkeypatch)
    reader = rig.reader("results")
    consumer = rig.start(env)
    reader.wait(lambda rs: len(rs) >= COUNT, 60, f"{COUNT} failed results")
    failed = _results(reader, topics["results"])
    assert sorted(failed) == [f"req-{i:03d}" for i in range(COUNT)]
    for result in failed.values():
        assert result["status"] == "failed"
        assert {t: f["code"] for t, f in result["failures"].items()} == {
            t: "destination_not_found" for t in FILE_TYPES
        }
        assert sorted(result["failed_sources"]) == list(FILE_TYPES)

    # Without --code, a permanent failure is not replayed.
    assert run(["replay", "--from", "results", "--dry-run"]) == 0
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"replay from results: published=0 dry_run=0 failed=0 skipped_already_replayed=0 "
        f"skipped_succeeded_later=0 skipped_permanent={COUNT} skipped_limit=0 "
        "not_replayable=0 still_invalid=0"
    )

    s3.create_bucket(Bucket=bucket)  # the fix
    status = run(["replay", "--from", "results", "--code", "destination_not_found", "--json"])
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert json.loads(out[-1]) == {
        "type": "summary",
        "from": "results",
        "counts": {
            "published": COUNT, "dry_run": 0, "failed": 0,
            "skipped_already_replayed": 0, "skipped_succeeded_later": 0,
            "skipped_permanent": 0, "skipped_limit": 0, "not_replayable": 0,
            "still_invalid": 0,
        },
    }  # fmt: skip

    reader.wait(lambda rs: len(rs) >= 2 * COUNT, 60, "the replays' results")
    reader.poll(1.0)  # a duplicate result would show up now
    results = _results(reader, topics["results"])
    replays = {rid: r for rid, r in results.items() if rid not in failed}
    assert sorted(replays) == [f"req-{i:03d}.r2" for i in range(COUNT)]
    for rid, result in replays.items():
        assert (result["status"], result["attempt"], result["replay_of"]) == (
            "succeeded", 2, rid.removesuffix(".r2"),
        )  # fmt: skip
        assert sorted(result["objects"]) == list(FILE_TYPES)
    expected_keys = sorted(obj["key"] for r in replays.values() for obj in r["objects"].values())
    assert len(set(expected_keys)) == COUNT * len(FILE_TYPES)
    assert _all_keys(s3, bucket) == expected_keys  # every file once, nothing else

    # Safe to run twice: every lineage has now succeeded.
    assert run(["replay", "--from", "results", "--code", "destination_not_found"]) == 0
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"replay from results: published=0 dry_run=0 failed=0 "
        f"skipped_already_replayed=0 skipped_succeeded_later={COUNT} "
        "skipped_permanent=0 skipped_limit=0 not_replayable=0 still_invalid=0"
    )
    assert _all_keys(s3, bucket) == expected_keys
    assert consumer.stop() == 0


def test_policy_rejections_replay_from_dlq_after_the_config_is_fixed(
    consumer_rig: RigFactory,
    make_bucket: Any,
    s3: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The consumer's own dead letters: `dlq list` reads its headers, and after the
    allowed buckets are fixed, a replay from the DLQ succeeds for exactly the fixable ones."""
    rig = consumer_rig()
    topics, default, other = rig.topics, rig.bucket, make_bucket("other")
    files = {"passport": stage(rig.staging, b"fixable", "p.pdf")}
    rig.publish(
        [
            (b"u1", encode(request("pol-1", "u1", files, bucket=other)), None),
            (b"u2", encode(request("pol-2", "u2", files, bucket=other)), None),
            (b"u3", b"\x1b[31m{not json", None),
            (b"u4", encode({**request("inv-1", "u4", files), "created_at": "yesterday"}), None),
        ]
    )
    env = _env_shared_with_the_cli(rig, monkeypatch)
    reader = rig.reader("dlq", "results")
    first = rig.start(env, "first")
    reader.wait(lambda rs: len(reader.of(topics["dlq"])) >= 4, 60, "4 dead letters")
    assert first.stop() == 0

    assert run(["dlq", "list", "--counts", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "type": "summary",
        "total": 4,
        "by_reason_code": {"bucket_not_allowed": 2, "invalid_json": 1, "invalid_request": 1},
    }

    fixed = rig.start({**env, "UPLOAD_STREAM_ALLOWED_BUCKETS": f"{default},{other}"}, "fixed")
    assert run(["replay", "--from", "dlq"]) == 0
    assert capsys.readouterr().err.splitlines()[-1] == (
        "replay from dlq: published=2 dry_run=0 failed=0 skipped_already_replayed=0 "
        "skipped_succeeded_later=0 skipped_permanent=0 skipped_limit=0 not_replayable=1 "
        "still_invalid=1"
    )
    results_topic = topics["results"]

    def replayed(_: object) -> bool:
        ids = {r.json()["request_id"] for r in reader.of(results_topic)}
        return {"pol-1.r2", "pol-2.r2"} <= ids

    reader.wait(replayed, 60, "results of the two replays")
    reader.poll(1.0)
    results = [r.json() for r in reader.of(results_topic)]
    assert sorted((r["request_id"], r["status"], r["replay_of"]) for r in results) == [
        ("inv-1", "failed", None),
        ("pol-1", "failed", None),
        ("pol-1.r2", "succeeded", "pol-1"),
        ("pol-2", "failed", None),
        ("pol-2.r2", "succeeded", "pol-2"),
    ]
    keys = s3.list_objects_v2(Bucket=other)["Contents"]
    assert [k["Key"] for k in keys] == [
        f"kyc_documents/user_{u}/passport/{files['passport']['sha256']}.pdf" for u in ("u1", "u2")
    ]
    assert fixed.stop() == 0
