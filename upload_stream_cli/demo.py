"""`make demo`: the whole pipeline once, on a local stack, in well under a minute.

Starts Kafka and S3 (devstack's `Stack`: the environment's KAFKA_BOOTSTRAP_SERVERS and
AWS_ENDPOINT_URL when set, else local ones), runs one `upload-stream consume` subprocess,
stages a made-up KYC batch (`demo_samples`: five good files and one damaged after hashing),
publishes it as one request, prints its result (`partial`: the damaged file fails with
checksum_mismatch), publishes one undecodable event and prints its DLQ reason, then stops
everything. Exit status: 0 when everything came back, 1 when something did not (in time),
2 when Java or Maven is missing, 130 after Ctrl-C (everything is stopped first).

`--web` (`make demo-web`) starts the same stack and consumer, then serves the browser
upload page (demo_web.py) and prints its URL; it runs until Ctrl-C (or SIGTERM), then
stops the page, the consumer and what the stack started, and exits 0.

Gevent patches first, as in `entry`: the consumer code this imports needs it.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import hashlib  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from confluent_kafka import Consumer, KafkaException, Message, Producer, TopicPartition  # noqa: E402
from gevent.event import Event  # noqa: E402

from producer_lib.client import UploadClient  # noqa: E402
from producer_lib.errors import ProducerLibError, ResultTimeout  # noqa: E402
from producer_lib.s3_staging import S3Stager  # noqa: E402
from producer_lib.settings import ProducerSettings  # noqa: E402
from schemas import BlobRef, UploadResult, header  # noqa: E402
from upload_engine.offload import offload  # noqa: E402
from upload_stream_cli.demo_samples import Sample, corrupt_sample, kyc_batch  # noqa: E402
from upload_stream_cli.demo_web import DemoSite  # noqa: E402
from upload_stream_cli.devstack.errors import MissingToolError, StackError  # noqa: E402
from upload_stream_cli.devstack.process import launch, stop_process, tail  # noqa: E402
from upload_stream_cli.devstack.s3 import s3_client  # noqa: E402
from upload_stream_cli.devstack.stack import (  # noqa: E402
    DLQ_TOPIC,
    DOCUMENTS_BUCKET,
    KAFKA_ENV,
    REQUESTS_TOPIC,
    RESULTS_TOPIC,
    S3_ENV,
    STAGING_BUCKET,
    Stack,
)
from upload_stream_cli.ops.topics import message_headers  # noqa: E402

GROUP_ID = "upload-stream-demo"
STAGING_PREFIX = "demo/"
USER_ID = "demo-user-42"
CATEGORY = "kyc_documents"
READY_MARK = "consumer.loop: assigned"  # the consumer's text log line once it owns partitions

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class DemoError(Exception):
    """Something did not come back (in time); the message says what and where to look."""


def consumer_env(stack: Stack, log_format: str = "text") -> dict[str, str]:
    """The environment of the demo's consumer: this stack, the default topics, quick timings."""
    return {
        **os.environ,
        **stack.env(),
        "UPLOAD_STREAM_GROUP_ID": GROUP_ID,
        "UPLOAD_STREAM_REQUESTS_TOPIC": REQUESTS_TOPIC,
        "UPLOAD_STREAM_RESULTS_TOPIC": RESULTS_TOPIC,
        "UPLOAD_STREAM_DLQ_TOPIC": DLQ_TOPIC,
        "UPLOAD_STREAM_ALLOWED_REPLY_TOPICS": RESULTS_TOPIC,
        "UPLOAD_STREAM_DEFAULT_BUCKET": DOCUMENTS_BUCKET,
        "UPLOAD_STREAM_ALLOWED_BUCKETS": DOCUMENTS_BUCKET,
        "UPLOAD_STREAM_STAGING_ALLOWLIST": f"s3://{STAGING_BUCKET}/{STAGING_PREFIX}",
        "UPLOAD_STREAM_METRICS_PORT": "0",  # no fixed port to collide with
        "UPLOAD_STREAM_LOG_FORMAT": log_format,
        "UPLOAD_STREAM_FETCH_WAIT_MAX_MS": "50",
        "UPLOAD_STREAM_CHECKPOINT_INTERVAL_S": "0.2",
        "UPLOAD_STREAM_SESSION_TIMEOUT_MS": "6000",
        "UPLOAD_STREAM_STATS_INTERVAL_MS": "0",
        "UPLOAD_STREAM_DRAIN_TIMEOUT_S": "10",
    }


def render_result(result: UploadResult) -> list[str]:
    """A result as aligned lines: status, then each uploaded file and each failure."""
    lines = [
        f"result {result.request_id}: status={result.status} "
        f"(user {result.user_id}, {result.file_category}, {result.duration_ms} ms)"
    ]
    if result.error is not None:
        lines.append(f"  request rejected: {result.error.code}: {result.error.message}")
    width = max((len(name) for name in [*result.objects, *result.failures]), default=0)
    for file_type, stored in sorted(result.objects.items()):
        url = result.urls.get(file_type, f"s3://{stored.bucket}/{stored.key}")
        lines.append(f"  uploaded {file_type:<{width}}  {url}  ({stored.size:,} bytes)")
    for file_type, failure in sorted(result.failures.items()):
        lines.append(
            f"  FAILED   {file_type:<{width}}  {failure.code}: {failure.message} "
            f"(retryable: {'yes' if failure.retryable else 'no'})"
        )
    return lines


class Demo:
    def __init__(self, *, verbose: bool, timeout: float) -> None:
        self.verbose = verbose
        self.timeout = timeout
        self.started = time.monotonic()
        self.stack: Stack | None = None
        self.consumer: subprocess.Popen[bytes] | None = None
        self.client: UploadClient | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix="upload-stream-demo-"))
        self.log_path = self.workdir / "consumer.log"
        self.keep_log = False
        self._cleaned = False

    def say(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:5.1f}s] {message}", flush=True)

    # -- the steps --

    def run(self) -> int:
        """Every step, then cleanup; a failure's reason is printed last, after the stop."""
        status, reason = EXIT_OK, ""
        try:
            self._run()
        except MissingToolError as exc:
            status, reason = EXIT_USAGE, f"demo: {exc}"
        except (DemoError, StackError, ProducerLibError, KafkaException) as exc:
            self.keep_log = True
            status, reason = EXIT_FAILURE, f"demo failed: {exc}"
        finally:
            self.cleanup()
        if reason:
            print(reason, file=sys.stderr, flush=True)
        return status

    def _run(self) -> None:
        stack = self._start_stack()
        self._start_consumer(stack)
        bootstrap = {"bootstrap.servers": stack.bootstrap_servers}
        stager = S3Stager(
            STAGING_BUCKET,
            STAGING_PREFIX,
            client=s3_client(stack.s3_endpoint, fake_credentials=stack.fake_credentials),
        )
        settings = ProducerSettings(requests_topic=REQUESTS_TOPIC, results_topic=RESULTS_TOPIC)
        self.client = UploadClient(settings, kafka=bootstrap, stager=stager)
        files = self._stage(stager)
        self._submit(self.client, files)
        self._dead_letter(bootstrap)

    def _start_stack(self) -> Stack:
        kafka, s3 = os.environ.get(KAFKA_ENV), os.environ.get(S3_ENV)
        self.say(f"using Kafka at {kafka} ({KAFKA_ENV})" if kafka else "starting Kafka...")
        self.say(f"using S3 at {s3} ({S3_ENV})" if s3 else "starting S3 (moto)...")
        self.stack = Stack()
        self.stack.start()
        self.stack.provision()
        self.say(
            f"Kafka ready at {self.stack.bootstrap_servers} ({self.stack.kafka_source}), "
            f"S3 at {self.stack.s3_endpoint} ({self.stack.s3_source}); "
            f"topics and buckets {DOCUMENTS_BUCKET}, {STAGING_BUCKET} in place"
        )
        return self.stack

    def _start_consumer(self, stack: Stack) -> None:
        self.say("starting the consumer (upload-stream consume)...")
        self.consumer = launch(
            [sys.executable, "-m", "upload_stream_cli.entry", "consume"],
            log=self.log_path,
            env=consumer_env(stack),
        )
        if self.verbose:
            gevent.spawn(_follow, self.log_path, self.consumer)
        deadline = time.monotonic() + self.timeout
        while READY_MARK not in self._log_text():
            if self.consumer.poll() is not None:
                raise DemoError(
                    f"the consumer exited with status {self.consumer.returncode} before it "
                    f"was ready; its log:\n{tail(self.log_path)}"
                )
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the consumer did not join its group within {self.timeout:g} s; "
                    f"log: {self.log_path}"
                )
            gevent.sleep(0.1)
        self.say(f"consumer ready (pid {self.consumer.pid}, group {GROUP_ID})")

    def _stage(self, stager: S3Stager) -> dict[str, BlobRef]:
        damaged, intact = corrupt_sample()
        samples = [*kyc_batch(), damaged]
        self.say(f"staging {len(samples)} sample files to {stager.root}")
        refs: dict[str, BlobRef] = {}
        for sample in samples:
            refs[sample.file_type] = stager.stage(
                sample.data,
                content_type=sample.content_type,
                filename=sample.filename,
                user_id=USER_ID,
            )
            note = ""
            if sample is damaged:
                # Claim the digest of the intact bytes: what a producer that hashed before the
                # copy got corrupted would send.
                claimed = hashlib.sha256(intact).hexdigest()
                refs[sample.file_type] = refs[sample.file_type].model_copy(
                    update={"sha256": claimed}
                )
                note = "  <- damaged after hashing: claimed sha256 is wrong"
            print(f"    {_describe(sample)}{note}", flush=True)
        return refs

    def _submit(self, client: UploadClient, files: dict[str, BlobRef]) -> None:
        pending = client.submit(
            USER_ID,
            files,
            file_category=CATEGORY,
            metadata={"source": "make demo"},
            track=True,
        )
        self.say(f"published request {pending.request_id} to {REQUESTS_TOPIC}; waiting...")
        try:
            result = pending.result(timeout=self.timeout)
        except ResultTimeout:
            raise DemoError(
                f"no result for {pending.request_id} on {RESULTS_TOPIC} within "
                f"{self.timeout:g} s; consumer log: {self.log_path}"
            ) from None
        self.say("result received (read_committed):")
        for line in render_result(result):
            print(f"    {line}", flush=True)

    def _dead_letter(self, bootstrap: dict[str, str]) -> None:
        key = f"demo-garbage-{uuid.uuid4().hex[:12]}".encode()
        reader = Consumer(
            {
                **bootstrap,
                "group.id": f"upload-stream-demo-dlq-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "fetch.wait.max.ms": 50,
            }
        )
        try:
            offload(_assign_at_end, reader, DLQ_TOPIC)
            producer = Producer({**bootstrap, "enable.idempotence": True})
            producer.produce(REQUESTS_TOPIC, key=key, value=b"\x00\xffnot an upload request{")
            if offload(producer.flush, 10.0):
                raise DemoError(f"the broker did not acknowledge the event on {REQUESTS_TOPIC}")
            self.say(f"published an undecodable event (key {key.decode()}); waiting for the DLQ...")
            record = self._find(reader, lambda m: m.key() == key)
        finally:
            offload(reader.close)
        headers = message_headers(record)
        self.say(
            f"dead-lettered on {DLQ_TOPIC}: dlq_reason_code={header(headers, 'dlq_reason_code')} "
            f"({header(headers, 'dlq_reason') or ''}); original bytes kept "
            f"({len(record.value() or b'')} bytes)"
        )

    def _find(self, reader: Consumer, match: Callable[[Message], bool]) -> Message:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for message in offload(reader.consume, 100, 0.2):
                if message.error() is None and match(message):
                    return message
        raise DemoError(
            f"the undecodable event did not reach {DLQ_TOPIC} within {self.timeout:g} s; "
            f"consumer log: {self.log_path}"
        )

    def _log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- stopping --

    def cleanup(self) -> None:
        """Stop what was started, newest first. Idempotent; runs on success, failure, Ctrl-C."""
        if self._cleaned:
            return
        self._cleaned = True
        if self.client is not None:
            self.client.close()
        if self.consumer is not None:
            self.say("stopping the consumer (SIGTERM)...")
            status = stop_process(self.consumer, timeout=20.0)
            # -SIGTERM: stopped before it had installed its handlers (Ctrl-C during start-up).
            if status not in (0, -signal.SIGTERM):
                self.keep_log = True
                self.say(f"the consumer exited with status {status}")
        if self.stack is not None:
            started_here = self.stack.broker is not None or self.stack.s3_server is not None
            if started_here:
                self.say("stopping Kafka and S3...")
            self.stack.close()
        if self.keep_log:
            print(f"consumer log kept: {self.log_path}", file=sys.stderr, flush=True)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.say("stopped")


class WebDemo(Demo):
    """The stack, one consumer and the upload page, until stopped."""

    def __init__(self, *, verbose: bool, timeout: float, host: str, port: int) -> None:
        super().__init__(verbose=verbose, timeout=timeout)
        self.host = host
        self.port = port
        self.site: DemoSite | None = None

    def _run(self) -> None:
        stack = self._start_stack()
        self._start_consumer(stack)
        self.site = DemoSite.start(
            kafka={"bootstrap.servers": stack.bootstrap_servers},
            s3=s3_client(stack.s3_endpoint, fake_credentials=stack.fake_credentials),
            staging_bucket=STAGING_BUCKET,
            staging_prefix=STAGING_PREFIX,
            requests_topic=REQUESTS_TOPIC,
            results_topic=RESULTS_TOPIC,
            user_id=USER_ID,
            file_category=CATEGORY,
            host=self.host,
            port=self.port,
        )
        self.say(f"upload page: {self.site.url} (as user {USER_ID})")
        self.say("pick files, upload, see each file's outcome; Ctrl-C stops everything")
        Event().wait()  # until main() kills this greenlet

    def cleanup(self) -> None:
        if not self._cleaned and self.site is not None:
            self.say("stopping the upload page...")
            self.site.close()
        super().cleanup()


def _describe(sample: Sample) -> str:
    return (
        f"{sample.file_type:<15} {sample.filename:<17} {sample.content_type:<16} "
        f"{len(sample.data):>6,} bytes"
    )


def _assign_at_end(consumer: Consumer, topic: str) -> None:
    """Read `topic` from its current end: only records produced from now on."""
    metadata = consumer.list_topics(topic, timeout=10)
    partitions = metadata.topics[topic].partitions
    assignment = []
    for partition in sorted(partitions):
        _low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=10, cached=False
        )
        assignment.append(TopicPartition(topic, partition, high))
    consumer.assign(assignment)


def _follow(path: Path, proc: subprocess.Popen[bytes]) -> None:
    """--verbose: copy the consumer's log to stderr as it grows."""
    offset = 0
    while True:
        try:
            with path.open("rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
        except FileNotFoundError:
            chunk = b""
        offset += len(chunk)
        for line in chunk.decode("utf-8", "replace").splitlines():
            print(f"    consumer | {line}", file=sys.stderr, flush=True)
        if proc.poll() is not None and not chunk:
            return
        gevent.sleep(0.2)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m upload_stream_cli.demo",
        description=(
            "Run the pipeline once: local Kafka + S3 (or KAFKA_BOOTSTRAP_SERVERS / "
            "AWS_ENDPOINT_URL), one consumer, a sample KYC batch with one corrupt file, "
            "one undecodable event; print the result and the DLQ reason, stop everything. "
            "With --web: serve the browser upload page instead, until Ctrl-C."
        ),
    )
    parser.add_argument(
        "--verbose", action="store_true", help="show the consumer's log (else a temp file)"
    )
    parser.add_argument(
        "--web",
        action="store_true",
        help="serve the browser upload page on the stack instead, until Ctrl-C",
    )
    parser.add_argument("--host", default="127.0.0.1", help="--web: address (127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=8000, help="--web: port (8000; 0 = any free one)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds to wait for the consumer, the result and the DLQ record (default 30)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    demo = (
        WebDemo(verbose=args.verbose, timeout=args.timeout, host=args.host, port=args.port)
        if args.web
        else Demo(verbose=args.verbose, timeout=args.timeout)
    )
    stop = Event()
    handlers: list[Any] = [
        gevent.signal_handler(s, stop.set) for s in (signal.SIGINT, signal.SIGTERM)
    ]
    try:
        worker = gevent.spawn(demo.run)
        gevent.wait([worker, stop], count=1)
        if not worker.ready():
            print("\ninterrupted: stopping everything...", file=sys.stderr, flush=True)
            worker.kill(block=True, timeout=90)  # its `finally` stops what it started
            demo.cleanup()
            # The web demo runs until interrupted: that is its normal end.
            return EXIT_OK if args.web else EXIT_INTERRUPTED
        status: int = worker.get()
        return status
    finally:
        for handler in handlers:
            handler.cancel()


if __name__ == "__main__":
    sys.exit(main())
