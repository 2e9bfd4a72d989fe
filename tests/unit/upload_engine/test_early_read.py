"""The content gate's GET of a copied object goes out with its HEAD, and is kept only when
it read the version the HEAD saw (upload_engine/early_read.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest import mock

import gevent
from botocore.exceptions import ClientError

from schemas import FileFailureCode as C
from schemas import VerifiedBy
from tests import samples
from tests.unit.engine_support import Env, FlakyClient
from tests.unit.scripted_clamd import scripted_clamd
from upload_engine import early_read
from upload_engine.content_type import HEAD_BYTES
from upload_engine.early_read import EarlyRead

DENIED = ClientError({"Error": {"Code": "AccessDenied", "Message": "x"}}, "GetObject")


def _recording(env: Env) -> tuple[FlakyClient, list[str], list[dict[str, Any]]]:
    """A client whose staged HEAD takes 20 ms, and a log of when each call came."""
    client = env.flaky()
    events: list[str] = []
    gets: list[dict[str, Any]] = []
    inner_head = client.__getattr__("head_object")

    def slow_head(**kwargs: Any) -> Any:
        events.append("head sent")
        gevent.sleep(0.02)
        events.append("head answered")
        return inner_head(**kwargs)

    client.before["get_object"] = lambda kwargs: (events.append("get sent"), gets.append(kwargs))
    client.head_object = slow_head  # type: ignore[attr-defined]
    return client, events, gets


def test_a_type_checked_copy_reads_its_head_while_the_head_request_is_out(env: Env) -> None:
    data = samples.pdf_bytes() + bytes(2 * HEAD_BYTES)
    client, events, gets = _recording(env)
    ref = env.stage_s3("a.pdf", data, stored_checksum=True)

    outcome = env.engine(client).upload(env.job({"doc": ref}))

    assert outcome.failures == {}
    assert env.body(outcome.objects["doc"].key) == data
    assert events.index("get sent") < events.index("head answered")
    assert [(g.get("Range"), g.get("IfMatch")) for g in gets] == [
        (f"bytes=0-{HEAD_BYTES - 1}", None)
    ]
    assert client.calls["copy_object"] == 1


def test_a_scanned_copy_is_read_by_one_get_standing_in_for_the_head(
    env: Env, tmp_path: Path
) -> None:
    data = samples.pdf_bytes()
    ref = env.stage_s3("a.pdf", data, stored_checksum=True)
    client, events, gets = _recording(env)

    with scripted_clamd(tmp_path / "clamd.sock", lambda _body: b"stream: OK\0") as clamd:
        outcome = env.engine(client, clamd_address=clamd.address).upload(env.job({"doc": ref}))

    assert outcome.failures == {}
    assert outcome.objects["doc"].verified_by is not VerifiedBy.PUT_CHECKSUM  # copied
    assert clamd.received == [data]
    assert "head sent" not in events
    assert [(g.get("Range"), g.get("ChecksumMode")) for g in gets] == [(None, "ENABLED")]


def test_a_scanned_object_whose_size_differs_fails_on_that_get(env: Env, tmp_path: Path) -> None:
    ref = env.stage_s3("a.pdf", samples.pdf_bytes(), claim=samples.pdf_bytes() + b"more")
    client = env.flaky()

    with scripted_clamd(tmp_path / "clamd.sock", lambda _body: b"stream: OK\0") as clamd:
        outcome = env.engine(client, clamd_address=clamd.address).upload(env.job({"doc": ref}))

    assert outcome.failures["doc"].code is C.SIZE_MISMATCH
    assert client.calls == {"get_object": 1}
    assert clamd.received == []


def test_a_get_that_read_another_version_is_dropped_and_read_again_pinned(env: Env) -> None:
    data = samples.elf_bytes() + bytes(2 * HEAD_BYTES)
    ref = env.stage_s3("a.pdf", data, stored_checksum=True)
    client, _events, gets = _recording(env)
    inner_get = client.__getattr__("get_object")
    dropped: list[Any] = []

    def get_object(**kwargs: Any) -> Any:
        response = inner_get(**kwargs)
        if "IfMatch" not in kwargs:  # as if the object was replaced before the HEAD
            response["ETag"] = '"another-version"'
            dropped.append(response["Body"])
        return response

    client.get_object = get_object  # type: ignore[attr-defined]
    outcome = env.engine(client).upload(env.job({"doc": ref}))

    assert outcome.failures["doc"].code is C.CONTENT_TYPE_MISMATCH
    head = env.client.head_object(Bucket=env.stage, Key=ref.uri.split("/", 3)[3])
    assert [g.get("IfMatch") for g in gets] == [None, head["ETag"]]
    assert dropped[0]._raw_stream.closed  # nothing of the other version left open
    assert "copy_object" not in client.calls


def test_a_failed_early_get_leaves_the_check_to_the_pinned_read(env: Env) -> None:
    data = samples.elf_bytes() + bytes(2 * HEAD_BYTES)
    ref = env.stage_s3("a.pdf", data, stored_checksum=True)
    client, _events, gets = _recording(env)
    client.fail["get_object"] = [DENIED]  # the early GET's; the pinned one succeeds

    outcome = env.engine(client).upload(env.job({"doc": ref}))

    assert outcome.failures["doc"].code is C.CONTENT_TYPE_MISMATCH
    assert [g.get("IfMatch") is None for g in gets] == [True, False]


def test_a_missing_source_cancels_the_early_get(env: Env) -> None:
    ref = env.stage_s3("a.pdf", b"x", stored_checksum=True)
    absent = ref.model_copy(update={"uri": f"s3://{env.stage}/incoming/absent"})
    cancels: list[EarlyRead] = []
    real_cancel = EarlyRead.cancel

    def cancel(self: EarlyRead, **kwargs: Any) -> None:
        cancels.append(self)
        real_cancel(self, **kwargs)

    with mock.patch.object(EarlyRead, "cancel", cancel):
        outcome = env.engine().upload(env.job({"doc": absent}))

    assert outcome.failures["doc"].code is C.SOURCE_NOT_FOUND
    assert len(cancels) == 1


def test_a_process_gevent_has_not_patched_reads_after_the_head(env: Env) -> None:
    data = samples.pdf_bytes() + bytes(2 * HEAD_BYTES)
    ref = env.stage_s3("a.pdf", data, stored_checksum=True)
    client, events, gets = _recording(env)

    with mock.patch.object(early_read, "process_is_patched", return_value=False):
        outcome = env.engine(client).upload(env.job({"doc": ref}))

    assert outcome.failures == {}
    assert events.index("get sent") > events.index("head answered")
    assert [g.get("IfMatch") is not None for g in gets] == [True]


def test_nothing_is_read_early_of_an_empty_object(env: Env) -> None:
    client = env.flaky()
    assert EarlyRead.start(client, env.stage, "k", 0) is None
    started = EarlyRead.start(client, env.stage, "k", 1)
    assert started is not None
    started.cancel()
    assert client.calls == {}  # killed before it ran


def test_a_get_still_on_its_way_when_the_head_fails_is_waited_for_not_killed(env: Env) -> None:
    ref = env.stage_s3("a.pdf", b"x" * (2 * HEAD_BYTES), stored_checksum=True)
    absent = ref.model_copy(update={"uri": f"s3://{env.stage}/incoming/absent"})
    client = env.flaky()
    events: list[str] = []
    inner_get = client.__getattr__("get_object")

    def slow_get(**kwargs: Any) -> Any:
        events.append("get sent")
        gevent.sleep(0.02)  # still out when the HEAD answers 404
        try:
            return inner_get(**kwargs)
        finally:
            events.append("get answered")

    client.get_object = slow_get  # type: ignore[attr-defined]
    client.before["head_object"] = lambda _kwargs: gevent.sleep(0.001)  # the GET goes out
    outcome = env.engine(client).upload(env.job({"doc": absent}))
    events.append("upload returned")

    assert outcome.failures["doc"].code is C.SOURCE_NOT_FOUND
    # A kill mid-request would leave its socket open (ResourceWarning, seen in CI).
    assert events == ["get sent", "get answered", "upload returned"]
