"""StagingCleanup (moto in-process and a temp dir) and its hook in the dispatcher: staged
blobs of stored files go once their record is committed, never before, never on failure,
and only from the staging scope of the request's own user."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gevent
import pytest
from botocore.exceptions import ClientError

from consumer.backpressure import Slots
from consumer.dispatch import Dispatcher, Policy
from consumer.ledger import Ledger, State
from consumer.metrics import Metrics
from consumer.outputs import RequestMessage
from consumer.staging_cleanup import StagingCleanup
from schemas import BlobRef, FileFailure, FileFailureCode, StoredObject, staging_scope
from tests.unit.engine_support import Env
from upload_engine.allowlist import Allowlist
from upload_engine.model import UploadJob, UploadOutcome

DATA = b"staged passport bytes"
USER = "42"
SCOPE = staging_scope(USER)


def _cleanup(env: Env, client: Any = None, **kwargs: Any) -> tuple[StagingCleanup, Metrics]:
    metrics = Metrics()
    allow = Allowlist.parse([f"file://{env.root}/", f"s3://{env.stage}/incoming/"])
    made = StagingCleanup(client=client or env.client, allowlist=allow, metrics=metrics, **kwargs)
    return made, metrics


def _exists(env: Env, ref: BlobRef) -> bool:
    if ref.uri.startswith("file://"):
        return Path(ref.uri.removeprefix("file://")).exists()
    key = ref.uri.split("/", 3)[3]
    return "Contents" in env.client.list_objects_v2(Bucket=env.stage, Prefix=key)


def test_committed_blobs_are_deleted_in_the_background_and_counted(env: Env) -> None:
    refs = [env.stage_s3(f"{SCOPE}/a", DATA), env.stage_file(f"{SCOPE}/b.pdf", DATA)]
    cleanup, metrics = _cleanup(env)
    cleanup.start()

    cleanup.committed(USER, refs)
    cleanup.close(timeout_s=5)

    assert not any(_exists(env, ref) for ref in refs)
    assert metrics.summary()["staged_deleted"] == 2
    assert metrics.staged_bytes_deleted._value.get() == 2 * len(DATA)


def test_a_blob_outside_the_allowlist_is_never_deleted(env: Env) -> None:
    env.client.put_object(Bucket=env.stage, Key="elsewhere/x", Body=DATA)
    ref = BlobRef(uri=f"s3://{env.stage}/elsewhere/x", size=1, sha256="a" * 64, content_type="a/b")
    cleanup, metrics = _cleanup(env)
    assert cleanup.delete(USER, ref) is False
    assert "Contents" in env.client.list_objects_v2(Bucket=env.stage, Prefix="elsewhere/x")
    assert metrics.tally["staged_refused"] == 1


def test_another_users_staged_blob_is_never_deleted(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    """A request (any producer) naming user 7's staged keys as user 42's files."""
    victim = staging_scope("7")
    refs = [env.stage_s3(f"{victim}/a", DATA), env.stage_file(f"{victim}/b.pdf", DATA)]
    cleanup, metrics = _cleanup(env)
    assert [cleanup.delete(USER, ref) for ref in refs] == [False, False]
    assert all(_exists(env, ref) for ref in refs)
    assert metrics.tally["staged_refused"] == 2
    assert "another user's staging scope" in caplog.text
    # The same blobs are user 7's to consume.
    assert [cleanup.delete("7", ref) for ref in refs] == [True, True]


def test_a_symlink_into_another_scope_is_judged_by_its_target(env: Env) -> None:
    victim = env.stage_file(f"{staging_scope('7')}/b.pdf", DATA)
    link = env.root / SCOPE / "link.pdf"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(victim.uri.removeprefix("file://"))
    cleanup, metrics = _cleanup(env)
    assert cleanup.delete(USER, victim.model_copy(update={"uri": f"file://{link}"})) is False
    assert _exists(env, victim) and metrics.tally["staged_refused"] == 1


def test_a_legacy_blob_without_a_scope_is_left_for_the_sweep(env: Env) -> None:
    refs = [env.stage_s3("0123456789abcdef0123456789abcdef", DATA), env.stage_file("b.pdf", DATA)]
    cleanup, metrics = _cleanup(env)
    assert [cleanup.delete(USER, ref) for ref in refs] == [False, False]
    assert all(_exists(env, ref) for ref in refs)
    assert metrics.tally["staged_legacy"] == 2


def test_a_failed_delete_is_logged_and_counted_not_raised(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    ref = env.stage_s3(f"{SCOPE}/a", DATA)
    flaky = env.flaky()
    flaky.fail["delete_object"] = [ClientError({"Error": {"Code": "AccessDenied"}}, "DeleteObject")]
    cleanup, metrics = _cleanup(env, client=flaky)
    assert cleanup.delete(USER, ref) is False
    assert _exists(env, ref)
    assert metrics.summary()["staged_failed"] == 1
    assert "could not delete a staged blob: ClientError" in caplog.text
    assert "incoming" not in caplog.text  # no keys in logs


def test_a_full_queue_drops_without_blocking(env: Env) -> None:
    cleanup, metrics = _cleanup(env, capacity=1)  # not started: nothing drains it
    ref = env.stage_file(f"{SCOPE}/a.pdf", DATA)
    cleanup.committed(USER, [ref, ref, ref])
    assert cleanup.pending() == 1
    assert metrics.tally["staged_dropped"] == 2


def test_a_missing_file_counts_as_deleted(env: Env) -> None:
    ref = env.stage_file(f"{SCOPE}/a.pdf", DATA)
    Path(ref.uri.removeprefix("file://")).unlink()
    cleanup, _metrics = _cleanup(env)
    assert cleanup.delete(USER, ref) is True


# -- the hook: Dispatcher -> record.on_commit -> on_consumed --


class _Engine:
    def __init__(self, fail: set[str]) -> None:
        self.fail = fail

    def upload(self, job: UploadJob) -> UploadOutcome:
        objects: dict[str, StoredObject] = {}
        failures: dict[str, FileFailure] = {}
        for file_type in job.files:
            if file_type in self.fail:
                failures[file_type] = FileFailure.of(FileFailureCode.CHECKSUM_MISMATCH, "no")
            else:
                objects[file_type] = StoredObject(
                    bucket=job.bucket,
                    key=f"k/{file_type}",
                    size=1,
                    sha256="a" * 64,
                    content_type="a/b",
                    etag="e",
                    version_id=None,
                )
        return UploadOutcome(objects=objects, failures=failures)

    def close(self) -> None:
        pass


POLICY = Policy(
    default_bucket="dest",
    allowed_buckets=frozenset({"dest"}),
    results_topic="results",
    allowed_reply_topics=frozenset(),
    dlq_topic="dlq",
    default_max_workers=5,
    max_files_per_request=10,
)


def _blob(name: str) -> dict[str, Any]:
    return {"uri": f"file:///s/{name}", "size": 1, "sha256": "a" * 64, "content_type": "a/b"}


def _until_done(record: Any) -> None:
    with gevent.Timeout(5):
        while record.state is not State.DONE:
            gevent.sleep(0.01)


def test_only_stored_files_blobs_go_and_only_once_committed() -> None:
    consumed: list[tuple[str, list[BlobRef]]] = []
    ledger, slots = Ledger(), Slots(1)
    assert slots.try_acquire()
    dispatcher = Dispatcher(
        policy=POLICY,
        engine=_Engine(fail={"bad", "shared_bad"}),
        collector=ledger,
        slots=slots,
        metrics=Metrics(),
        wake=lambda: None,
        on_consumed=lambda user, refs: consumed.append((user, refs)),
    )
    request = {
        "schema_version": 1,
        "request_id": "r1",
        "user_id": 42,
        "files": {
            "good": _blob("good"),
            "bad": _blob("bad"),
            "shared_good": _blob("shared"),
            "shared_bad": _blob("shared"),
        },
        "created_at": "2026-11-28T12:00:00Z",
    }
    record = ledger.track("requests", 0, 1)
    dispatcher.dispatch(
        record, RequestMessage("requests", 0, 1, b"k", json.dumps(request).encode(), [])
    )
    _until_done(record)
    assert consumed == []  # done, not committed

    ledger.release([record])

    assert [(user, [ref.uri for ref in refs]) for user, refs in consumed] == [
        ("42", ["file:///s/good"])
    ]


def test_a_dropped_record_consumes_nothing() -> None:
    consumed: list[tuple[str, list[BlobRef]]] = []
    ledger, slots = Ledger(), Slots(1)
    assert slots.try_acquire()
    dispatcher = Dispatcher(
        policy=POLICY,
        engine=_Engine(fail=set()),
        collector=ledger,
        slots=slots,
        metrics=Metrics(),
        wake=lambda: None,
        on_consumed=lambda user, refs: consumed.append((user, refs)),
    )
    request = {
        "schema_version": 1,
        "request_id": "r1",
        "user_id": 42,
        "files": {"good": _blob("good")},
        "created_at": "2026-11-28T12:00:00Z",
    }
    record = ledger.track("requests", 0, 1)
    dispatcher.dispatch(
        record, RequestMessage("requests", 0, 1, b"k", json.dumps(request).encode(), [])
    )
    _until_done(record)
    ledger.drop([("requests", 0)])  # an aborted transaction, a revoke
    assert consumed == []
