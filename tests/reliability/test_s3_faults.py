"""S3 faults: the consumer uploads through a fault-injecting proxy (its own process).

Transient faults (503 SlowDown, 500, connection resets, stalls past the read timeout,
truncated bodies) at a seeded 20 % rate must all be absorbed by the engine's retry budget:
every file arrives, verified. Permanent faults must fail exactly the affected files with
the contract's code while the rest of each request succeeds.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import pytest

from tests.integration.consumer_helpers import ConsumerRig, RigFactory, encode, request
from tests.reliability.harness import (
    Expected,
    FaultProxy,
    TimedReader,
    audit,
    list_keys,
    payload,
    stage_bytes,
)
from tests.reliability.report import SCOREBOARD, Row

SEED = 20260101
TRANSIENT_RATE = 0.2
MAX_STREAK = 3  # the proxy's longest run of faults on one call; the budget below is larger
RETRY_ATTEMPTS = 6
READ_TIMEOUT_S = 1.0


def _fault_env(rig: ConsumerRig, staging_bucket: str, proxy: FaultProxy) -> dict[str, str]:
    return rig.env(
        AWS_ENDPOINT_URL=proxy.endpoint,
        UPLOAD_STREAM_STAGING_ALLOWLIST=f"file://{rig.staging}/,s3://{staging_bucket}/staged/",
        UPLOAD_STREAM_S3_READ_TIMEOUT_S=str(READ_TIMEOUT_S),
        UPLOAD_STREAM_S3_CONNECT_TIMEOUT_S="2",
        UPLOAD_STREAM_RETRY_MAX_ATTEMPTS=str(RETRY_ATTEMPTS),
        UPLOAD_STREAM_RETRY_BASE_DELAY_S="0.05",
        UPLOAD_STREAM_RETRY_MAX_DELAY_S="0.5",
        UPLOAD_STREAM_S3_ADDRESSING_STYLE="path",
    )


@pytest.mark.timeout(180)
def test_transient_s3_faults_are_absorbed_by_the_retry_budget(
    consumer_rig: RigFactory, make_bucket: Any, s3: Any, tmp_path: Path
) -> None:
    count = 60
    rig = consumer_rig()
    topics, bucket, staging = rig.topics, rig.bucket, rig.staging
    staging_bucket = make_bucket("staging")
    plan = {"seed": SEED, "rate": TRANSIENT_RATE, "max_streak": MAX_STREAK, "stall_s": 2.5}
    proxy = FaultProxy(rig.stack.s3_endpoint, plan, tmp_path / "proxy.log")
    reader = rig.reader("results", "dlq", cls=TimedReader)
    row = SCOREBOARD.add(Row("s3 transient faults", faults="503/500/reset/stall/truncate 20%"))
    try:
        rng = random.Random(SEED)
        expected = Expected()
        records = []
        for i in range(count):
            rid, user = f"s3t-{i:04d}", f"user{i % 7}"
            passport = stage_bytes(staging, f"{rid}-p.pdf", payload(rng, f"{rid}-p"))
            selfie = stage_bytes(
                staging, f"{rid}-s.jpg", payload(rng, f"{rid}-s", 2048), "image/jpeg", "selfie.jpg"
            )
            bill = payload(rng, f"{rid}-b", 4096)
            key = f"staged/{rid}-bill.pdf"
            s3.put_object(Bucket=staging_bucket, Key=key, Body=bill)
            sha = hashlib.sha256(bill).hexdigest()
            files = {
                "passport": passport.ref,
                "selfie": selfie.ref,
                "utility_bill": {
                    "uri": f"s3://{staging_bucket}/{key}",
                    "size": len(bill),
                    "sha256": sha,
                    "content_type": "application/pdf",
                },
            }
            records.append((user.encode(), encode(request(rid, user, files)), None))
            expected.add(
                rid,
                user,
                {"passport": passport.sha256, "selfie": selfie.sha256, "utility_bill": sha},
            )
        consumer = rig.start(_fault_env(rig, staging_bucket, proxy), "s3-transient")
        rig.publish(records)
        reader.wait(lambda _: reader.distinct(topics["results"]) >= count, 150, "all results")
        reader.poll(1.0)
        assert consumer.stop() == 0
        stats = proxy.stats()
        found = audit(reader.of(topics["results"]), expected, s3, bucket)
        row.faults_injected = stats.get("transient", 0)
        row.sent, row.committed, row.duplicates = count, found.committed, found.duplicates
        row.missing, row.corrupt = found.missing, found.corrupt
        row.notes = ", ".join(
            f"{k} {stats.get(k, 0)}" for k in ("slowdown", "internal", "reset", "stall", "truncate")
        )
        row.notes += f"; {stats.get('requests', 0)} S3 calls, budget {RETRY_ATTEMPTS} attempts"
        assert reader.of(topics["dlq"]) == []
        assert found.clean, found
        assert set(list_keys(s3, bucket)) == {
            r.json()["objects"][ft]["key"]
            for r in reader.of(topics["results"])
            for ft in ("passport", "selfie", "utility_bill")
        }
        # Every kind of fault was really met, at about the configured rate.
        for kind in ("slowdown", "internal", "reset", "stall", "truncate"):
            assert stats.get(kind, 0) > 0, (kind, stats)
        assert 0.1 < stats["transient"] / stats["requests"] < 0.3, stats
    finally:
        proxy.close()


@pytest.mark.timeout(120)
def test_permanent_s3_faults_fail_only_the_affected_files_with_the_right_code(
    consumer_rig: RigFactory, make_bucket: Any, s3: Any, tmp_path: Path
) -> None:
    count = 12
    rig = consumer_rig()
    topics, bucket, staging = rig.topics, rig.bucket, rig.staging
    staging_bucket = make_bucket("staging")
    plan = {
        "seed": SEED,
        "rules": [
            {"method": "PUT", "path_regex": r"/selfie/", "fault": "denied"},
            {"method": "PUT", "path_regex": r"/proof_of_address/", "fault": "slowdown"},
        ],
    }
    proxy = FaultProxy(rig.stack.s3_endpoint, plan, tmp_path / "proxy.log")
    reader = rig.reader("results", cls=TimedReader)
    row = SCOREBOARD.add(Row("s3 permanent faults", faults="403 on selfie/, 503 on proof/"))
    try:
        rng = random.Random(SEED + 1)
        records, passports = [], {}
        for i in range(count):
            rid, user = f"s3p-{i:04d}", f"user{i}"
            files = {
                name: stage_bytes(staging, f"{rid}-{name}", payload(rng, f"{rid}-{name}")).ref
                for name in ("passport", "selfie", "proof_of_address")
            }
            passports[rid] = files["passport"]["sha256"]
            records.append((user.encode(), encode(request(rid, user, files)), None))
        consumer = rig.start(_fault_env(rig, staging_bucket, proxy), "s3-permanent")
        rig.publish(records)
        reader.wait(lambda _: reader.distinct(topics["results"]) >= count, 90, "all results")
        assert consumer.stop() == 0
        results = {r.json()["request_id"]: r.json() for r in reader.of(topics["results"])}
        stats = proxy.stats()
        row.faults_injected = stats.get("permanent", 0)
        row.sent, row.committed = count, len(results)
        row.duplicates = len(reader.of(topics["results"])) - len(results)
        listing = list_keys(s3, bucket)
        row.missing = sum(
            1
            for r in results.values()
            if r["objects"].get("passport", {}).get("key") not in listing
        )
        row.notes = (
            "each request: passport ok, selfie destination_denied, proof throttled; "
            f"403 x {stats.get('denied', 0)}, 503 x {stats.get('slowdown', 0)}"
        )
        assert sorted(results) == sorted(passports)
        for rid, result in results.items():
            assert result["status"] == "partial", result
            assert set(result["objects"]) == {"passport"}
            assert result["objects"]["passport"]["sha256"] == passports[rid]
            failures = result["failures"]
            assert failures["selfie"]["code"] == "destination_denied"
            assert failures["selfie"]["retryable"] is False
            assert failures["proof_of_address"]["code"] == "throttled"
            assert failures["proof_of_address"]["retryable"] is True
            assert f"after {RETRY_ATTEMPTS} attempts" in failures["proof_of_address"]["message"]
        # Nothing but the passports was written.
        assert sorted(listing) == sorted(r["objects"]["passport"]["key"] for r in results.values())
        assert row.missing == 0 and row.duplicates == 0
    finally:
        proxy.close()
