"""Scan metrics: the engine reports each scan to its observer, the consumer's Metrics counts
them by verdict, with latency and bytes."""

from __future__ import annotations

import io
from pathlib import Path

from consumer.metrics import Metrics
from tests.unit.engine_support import Env, env_fixture, moto_client  # noqa: F401
from tests.unit.scripted_clamd import scripted_clamd
from upload_engine import LocalBlob, UploadEngine


def test_scans_are_counted_by_verdict_with_latency_and_bytes(env: Env, tmp_path: Path) -> None:
    metrics = Metrics()
    replies = iter([b"stream: OK\0", b"stream: Bad.Sig FOUND\0"])
    with scripted_clamd(tmp_path / "c.sock", lambda _b: next(replies)) as clamd:
        engine = UploadEngine(
            env.settings(clamd_address=clamd.address), env.client, scan_observer=metrics.scan_done
        )
        env.engines.append(engine)
        engine.upload(env.job({"a": LocalBlob(io.BytesIO(b"12345"), "application/pdf")}))
        engine.upload(env.job({"b": LocalBlob(io.BytesIO(b"123"), "application/pdf")}))
    engine_bad = UploadEngine(
        env.settings(clamd_address=f"unix://{tmp_path}/gone.sock"),
        env.client,
        scan_observer=metrics.scan_done,
    )
    env.engines.append(engine_bad)
    engine_bad.upload(env.job({"c": LocalBlob(io.BytesIO(b"1"), "application/pdf")}))

    value = metrics.registry.get_sample_value
    assert value("upload_stream_scans_total", {"verdict": "clean"}) == 1
    assert value("upload_stream_scans_total", {"verdict": "malware"}) == 1
    assert value("upload_stream_scans_total", {"verdict": "failed"}) == 1
    assert value("upload_stream_scanned_bytes_total") == 8
    assert value("upload_stream_scan_seconds_count") == 3
