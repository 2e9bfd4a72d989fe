"""Which check tied each stored object to its sha256 (`verified_by`), and the copy check on
servers that do not report the copy's checksum (upload_engine/integrity.py).

The fakes answer as the servers measured in the README do: S3 and versitygw report
ChecksumSHA256 on CopyObject, SeaweedFS only keeps it on the copy (HeadObject), S3Proxy
neither reports nor keeps one. The copy tests count S3 calls, so they run with the type
check off: its ranged GET of the staged head is the content gate's, tested there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas import FileFailureCode as C
from schemas import VerifiedBy
from tests.unit.engine_support import Env, FlakyClient, opaque_bytes, sha
from upload_engine.verify import b64_of_hex

DATA = b"staged and copied document bytes"  # no magic: the type check lets it pass
MiB = 1024 * 1024


def edit_answers(
    client: FlakyClient, operation: str, edit: Callable[[dict[str, Any], dict[str, Any]], None]
) -> list[dict[str, Any]]:
    """Pass `operation`'s answers through `edit(kwargs, response)`; returns each call's
    kwargs. An instance attribute, so FlakyClient's own wrapper is bypassed for it."""
    inner = getattr(client._inner, operation)
    seen: list[dict[str, Any]] = []

    def call(**kwargs: Any) -> Any:
        seen.append(kwargs)
        client.calls[operation] = client.calls.get(operation, 0) + 1
        response = inner(**kwargs)
        edit(kwargs, response)
        return response

    setattr(client, operation, call)
    return seen


def no_copy_checksum(_kwargs: dict[str, Any], response: dict[str, Any]) -> None:
    response["CopyObjectResult"].pop("ChecksumSHA256", None)


def destination_only(env: Env, edit: Callable[[dict[str, Any]], None]) -> Any:
    """An edit of HeadObject answers about the destination (the staged object's stay)."""

    def on_head(kwargs: dict[str, Any], response: dict[str, Any]) -> None:
        if kwargs["Bucket"] == env.dest:
            edit(response)

    return on_head


def test_single_put_is_verified_by_its_checksum(env: Env) -> None:
    outcome = env.engine().upload(env.job({"doc": env.stage_file("a.pdf", DATA)}))
    assert outcome.objects["doc"].verified_by is VerifiedBy.PUT_CHECKSUM


def test_multipart_is_verified_by_its_part_checksums(env: Env) -> None:
    data = opaque_bytes(6 * MiB)
    engine = env.engine(multipart_threshold_bytes=5 * MiB, multipart_part_bytes=5 * MiB)
    outcome = engine.upload(env.job({"video": env.stage_file("v.mp4", data)}))
    assert outcome.objects["video"].verified_by is VerifiedBy.PART_CHECKSUMS


def test_copy_reporting_its_checksum_needs_no_other_check(env: Env) -> None:
    ref = env.stage_s3("a.pdf", DATA, stored_checksum=True)
    client = env.flaky()
    outcome = env.engine(client, type_check=False).upload(env.job({"doc": ref}))
    assert outcome.objects["doc"].verified_by is VerifiedBy.COPY_CHECKSUM
    assert client.calls == {"head_object": 1, "copy_object": 1}  # the source's HEAD only


def test_copy_without_a_reported_checksum_is_checked_by_head(env: Env) -> None:
    ref = env.stage_s3("a.pdf", DATA, stored_checksum=True)
    client = env.flaky()
    edit_answers(client, "copy_object", no_copy_checksum)
    heads = edit_answers(client, "head_object", lambda _k, _r: None)
    outcome = env.engine(client, type_check=False).upload(env.job({"doc": ref}))
    stored = outcome.objects["doc"]
    assert outcome.failures == {}
    assert stored.verified_by is VerifiedBy.HEAD_CHECKSUM
    assert heads[-1] == {"Bucket": env.dest, "Key": stored.key, "ChecksumMode": "ENABLED"}
    assert "get_object" not in client.calls
    assert env.body(stored.key) == DATA


def test_copy_with_no_checksum_anywhere_is_read_back(env: Env) -> None:
    ref = env.stage_s3("a.pdf", DATA, stored_checksum=True)
    client = env.flaky()
    edit_answers(client, "copy_object", no_copy_checksum)
    edit_answers(
        client, "head_object", destination_only(env, lambda r: r.pop("ChecksumSHA256", None))
    )
    gets = edit_answers(client, "get_object", lambda _k, _r: None)
    outcome = env.engine(client, type_check=False).upload(env.job({"doc": ref}))
    stored = outcome.objects["doc"]
    assert stored.verified_by is VerifiedBy.READ_BACK
    assert [(g["Bucket"], g["Key"]) for g in gets] == [(env.dest, stored.key)]


def test_a_composite_checksum_on_the_copy_is_not_trusted(env: Env) -> None:
    ref = env.stage_s3("a.pdf", DATA, stored_checksum=True)
    client = env.flaky()
    edit_answers(client, "copy_object", no_copy_checksum)

    def composite(response: dict[str, Any]) -> None:
        response["ChecksumSHA256"] = b64_of_hex(sha(DATA)) + "-2"

    edit_answers(client, "head_object", destination_only(env, composite))
    outcome = env.engine(client, type_check=False).upload(env.job({"doc": ref}))
    assert outcome.objects["doc"].verified_by is VerifiedBy.READ_BACK


def test_a_wrong_reported_copy_checksum_deletes_the_copy(env: Env) -> None:
    ref = env.stage_s3("a.pdf", DATA, stored_checksum=True)
    client = env.flaky()

    def wrong(_kwargs: dict[str, Any], response: dict[str, Any]) -> None:
        response["CopyObjectResult"]["ChecksumSHA256"] = b64_of_hex(sha(b"other"))

    edit_answers(client, "copy_object", wrong)
    outcome = env.engine(client, type_check=False).upload(env.job({"doc": ref}))
    assert outcome.failures["doc"].code is C.CHECKSUM_MISMATCH
    assert env.keys() == []


def test_a_wrong_checksum_on_head_deletes_the_copy(env: Env) -> None:
    ref = env.stage_s3("a.pdf", DATA, stored_checksum=True)
    client = env.flaky()
    edit_answers(client, "copy_object", no_copy_checksum)

    def wrong(response: dict[str, Any]) -> None:
        response["ChecksumSHA256"] = b64_of_hex(sha(b"other"))

    edit_answers(client, "head_object", destination_only(env, wrong))
    outcome = env.engine(client, type_check=False).upload(env.job({"doc": ref}))
    assert outcome.failures["doc"].code is C.CHECKSUM_MISMATCH
    assert env.keys() == []


def test_a_copy_of_another_size_deletes_it(env: Env) -> None:
    ref = env.stage_s3("a.pdf", DATA, stored_checksum=True)
    client = env.flaky()
    edit_answers(client, "copy_object", no_copy_checksum)

    def longer(response: dict[str, Any]) -> None:
        response["ContentLength"] = len(DATA) + 1

    edit_answers(client, "head_object", destination_only(env, longer))
    outcome = env.engine(client, type_check=False).upload(env.job({"doc": ref}))
    assert outcome.failures["doc"].code is C.SIZE_MISMATCH
    assert env.keys() == []


def test_a_read_back_of_other_bytes_deletes_the_copy(env: Env) -> None:
    ref = env.stage_s3("a.pdf", DATA, stored_checksum=True)
    client = env.flaky()

    def corrupt(kwargs: dict[str, Any], response: dict[str, Any]) -> None:
        # The copy lands with other bytes of the same size, and no checksum anywhere.
        response["CopyObjectResult"].pop("ChecksumSHA256", None)
        env.client.put_object(Bucket=kwargs["Bucket"], Key=kwargs["Key"], Body=DATA[::-1])

    edit_answers(client, "copy_object", corrupt)
    outcome = env.engine(client, type_check=False).upload(env.job({"doc": ref}))
    assert outcome.failures["doc"].code is C.CHECKSUM_MISMATCH
    assert not outcome.failures["doc"].retryable
    assert env.keys() == []
