"""Prometheus metrics, plus the plain counters behind the shutdown summary line.

Each `Metrics` has its own registry, so several consumers can run in one test process.
Outcomes (requests, files, bytes, dead letters) are counted when their offset is
committed, so work redone after an abort, a rewind or a rebalance counts once; the
latency histogram times every upload, redone ones too.
"""

from __future__ import annotations

import json
import logging
from collections import Counter as Tally
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

log = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_SCAN_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.tally: Tally[str] = Tally()
        r = self.registry
        self.requests = Counter(
            "upload_stream_requests",
            "Requests committed, by result status and request-level code.",
            ["status", "code"],
            registry=r,
        )
        self.files = Counter(
            "upload_stream_files",
            "Files of committed requests, by status and failure code.",
            ["status", "code"],
            registry=r,
        )
        self.bytes = Counter(
            "upload_stream_uploaded_bytes", "Bytes uploaded, of committed requests.", registry=r
        )
        self.latency = Histogram(
            "upload_stream_request_seconds",
            "Upload time of an accepted request.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.dlq = Counter(
            "upload_stream_dead_letters", "Records committed to the DLQ.", ["code"], registry=r
        )
        self.in_flight = Gauge(
            "upload_stream_in_flight_requests", "Requests being uploaded.", registry=r
        )
        self.paused = Gauge(
            "upload_stream_paused_partitions", "Partitions paused (backpressure).", registry=r
        )
        self.assigned = Gauge(
            "upload_stream_assigned_partitions", "Partitions assigned.", registry=r
        )
        self.lag = Gauge(
            "upload_stream_consumer_lag",
            "Messages not yet taken, behind the last stable offset.",
            ["topic", "partition"],
            registry=r,
        )
        self.txn = Counter(
            "upload_stream_transactions", "Transactions, by outcome.", ["outcome"], registry=r
        )
        self.commits = Counter("upload_stream_offset_commits", "Offset commits.", registry=r)
        self.staged_deletes = Counter(
            "upload_stream_staged_blob_deletes",
            "Staged blobs of committed files: deleted, failed (left for the sweep), dropped "
            "(cleanup queue full), refused (outside the staging allow-list or another user's "
            "staging scope) or legacy (no staging scope: left for the sweep).",
            ["outcome"],
            registry=r,
        )
        self.staged_bytes_deleted = Counter(
            "upload_stream_staged_bytes_deleted", "Bytes of staged blobs deleted.", registry=r
        )
        self.scans = Counter(
            "upload_stream_scans",
            "Files scanned by clamd, by verdict (clean, malware, failed); redone ones too.",
            ["verdict"],
            registry=r,
        )
        self.scan_latency = Histogram(
            "upload_stream_scan_seconds",
            "Time spent talking to clamd per scanned file (sending and the verdict).",
            buckets=_SCAN_BUCKETS,
            registry=r,
        )
        self.scanned_bytes = Counter(
            "upload_stream_scanned_bytes", "Bytes sent to clamd.", registry=r
        )

    def request_done(self, status: str, code: str = "") -> None:
        self.requests.labels(status=status, code=code).inc()
        self.tally[f"requests_{status}"] += 1

    def file_done(self, status: str, code: str = "", size: int = 0) -> None:
        self.files.labels(status=status, code=code).inc()
        self.tally[f"files_{status}"] += 1
        if size:
            self.bytes.inc(size)

    def scan_done(self, verdict: str, seconds: float, size: int) -> None:
        """The engine's scan observer (upload_engine.gate.ScanObserver)."""
        self.scans.labels(verdict=verdict).inc()
        self.scan_latency.observe(seconds)
        self.scanned_bytes.inc(size)

    def dead_letter(self, code: str) -> None:
        self.dlq.labels(code=code).inc()
        self.tally["dlq"] += 1

    def transaction(self, outcome: str) -> None:
        self.txn.labels(outcome=outcome).inc()
        self.tally[f"txn_{outcome}"] += 1

    def offsets_committed(self) -> None:
        self.commits.inc()
        self.tally["commits"] += 1

    def staged_delete(self, outcome: str, size: int = 0) -> None:
        self.staged_deletes.labels(outcome=outcome).inc()
        self.tally[f"staged_{outcome}"] += 1
        if size:
            self.staged_bytes_deleted.inc(size)

    def on_stats(self, raw: str) -> None:
        """librdkafka's statistics callback: consumer lag per assigned partition."""
        try:
            stats: dict[str, Any] = json.loads(raw)
            for topic, info in stats.get("topics", {}).items():
                for partition, p in info.get("partitions", {}).items():
                    # Offsets go to the transaction, so librdkafka's consumer_lag (based on
                    # offsets it committed itself) stays -1: use the last stable offset
                    # (read_committed) minus the position the loop has taken.
                    end, position = p.get("ls_offset", -1), p.get("app_offset", -1)
                    lag = end - position if end >= 0 and position >= 0 else -1
                    if partition != "-1" and lag >= 0:
                        self.lag.labels(topic=topic, partition=partition).set(lag)
        except (ValueError, TypeError, AttributeError):
            log.warning("unreadable librdkafka statistics")

    def summary(self) -> dict[str, int]:
        keys = (
            "requests_succeeded",
            "requests_partial",
            "requests_failed",
            "files_uploaded",
            "files_failed",
            "dlq",
            "txn_committed",
            "txn_aborted",
            "txn_producer_replaced",
            "commits",
            "staged_deleted",
            "staged_failed",
        )
        return {key: self.tally[key] for key in keys}
