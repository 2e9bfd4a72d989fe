"""Idempotent after cleanup: when a staged blob is gone, a destination key that already
holds the claimed bytes makes the file succeed without it (redelivery, replay), and nothing
else does. While a small file's source is there it is used as before: its destination is
HEADed only for a gone source, so the common path pays no extra request. A file at or above
`reuse_head_first_bytes` HEADs its destination first, so sent twice it moves no bytes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from schemas import FileFailureCode as C
from tests.unit.engine_support import (
    Env,
    sha,
)

DATA = b"a passport, uploaded once " * 20  # no magic bytes: the type check lets it pass
SOURCE_READS = ("get_object", "copy_object", "put_object", "upload_part")


def _delete_staged(env: Env, uri: str) -> None:
    if uri.startswith("file://"):
        os.unlink(uri.removeprefix("file://"))
    else:
        env.client.delete_object(Bucket=env.stage, Key=uri.split("/", 3)[3])


@pytest.mark.parametrize("where", ["s3", "file"])
def test_after_the_staged_blob_is_deleted_the_request_still_succeeds_unread(
    env: Env, where: str
) -> None:
    ref = env.stage_s3("a", DATA) if where == "s3" else env.stage_file("a.pdf", DATA)
    first = env.engine(reuse_stored_objects=True).upload(env.job({"passport": ref}))
    assert first.failures == {} and first.already_stored == frozenset()
    _delete_staged(env, ref.uri)
    flaky = env.flaky()

    again = env.engine(client=flaky, reuse_stored_objects=True).upload(env.job({"passport": ref}))

    assert again.failures == {}
    assert again.already_stored == {"passport"}
    assert again.objects["passport"].key == first.objects["passport"].key
    assert again.objects["passport"].etag == first.objects["passport"].etag
    # The staged blob's HEAD (S3) finds it gone, then one HEAD of the destination.
    assert flaky.calls.get("head_object") == (2 if where == "s3" else 1)
    assert not any(flaky.calls.get(name) for name in SOURCE_READS)


def test_the_same_document_sent_twice_is_uploaded_again_to_the_same_object(env: Env) -> None:
    first = env.engine(reuse_stored_objects=True).upload(
        env.job({"passport": env.stage_s3("a", DATA)})
    )
    second = env.stage_s3("b", DATA)  # a fresh staged copy of the same bytes
    flaky = env.flaky()

    outcome = env.engine(client=flaky, reuse_stored_objects=True).upload(
        env.job({"passport": second})
    )

    assert outcome.already_stored == frozenset()  # the source was there: used as usual
    assert outcome.objects["passport"].key == first.objects["passport"].key
    assert flaky.calls.get("put_object") == 1


def test_an_object_with_other_bytes_under_the_key_is_not_taken_for_ours(env: Env) -> None:
    ref = env.stage_s3("a", DATA)
    key = f"kyc/user_u1/passport/{sha(DATA)}.pdf"
    env.client.put_object(Bucket=env.dest, Key=key, Body=b"someone else's bytes")

    outcome = env.engine(reuse_stored_objects=True).upload(env.job({"passport": ref}))

    assert outcome.already_stored == frozenset()
    assert outcome.failures == {}
    assert env.body(key) == DATA  # uploaded properly over it


def test_an_object_without_a_stored_sha256_is_not_taken_for_ours(env: Env) -> None:
    ref = env.stage_s3("a", DATA)
    key = f"kyc/user_u1/passport/{sha(DATA)}.pdf"
    env.client.put_object(Bucket=env.dest, Key=key, Body=DATA)  # same bytes, no checksum
    _delete_staged(env, ref.uri)

    outcome = env.engine(reuse_stored_objects=True).upload(env.job({"passport": ref}))

    assert outcome.failures["passport"].code is C.SOURCE_NOT_FOUND


def test_turned_off_the_source_is_needed_again(env: Env) -> None:
    ref = env.stage_s3("a", DATA)
    env.engine(reuse_stored_objects=True).upload(env.job({"passport": ref}))
    _delete_staged(env, ref.uri)

    outcome = env.engine(reuse_stored_objects=False).upload(env.job({"passport": ref}))

    assert outcome.failures["passport"].code is C.SOURCE_NOT_FOUND


def test_the_requests_rules_still_apply_first(env: Env, tmp_path: Path) -> None:
    ref = env.stage_s3("a", DATA)
    env.engine(reuse_stored_objects=True).upload(env.job({"passport": ref}))

    refused_type = env.engine(reuse_stored_objects=True, allowed_content_types=["image/*"]).upload(
        env.job({"passport": ref})
    )
    assert refused_type.failures["passport"].code is C.CONTENT_TYPE_NOT_ALLOWED

    outside = ref.model_copy(update={"uri": f"s3://{env.stage}/elsewhere/a"})
    refused_source = env.engine(reuse_stored_objects=True).upload(env.job({"passport": outside}))
    assert refused_source.failures["passport"].code is C.SOURCE_NOT_ALLOWED
    assert refused_source.already_stored == frozenset()


LARGE = b"a large passport scan, sent twice " * 200


def test_a_large_document_sent_twice_is_not_transferred_again(env: Env) -> None:
    settings = {"reuse_stored_objects": True, "reuse_head_first_bytes": len(LARGE)}
    first = env.engine(**settings).upload(env.job({"passport": env.stage_s3("a", LARGE)}))
    assert first.failures == {} and first.already_stored == frozenset()
    second = env.stage_s3("b", LARGE)  # a fresh staged copy of the same bytes, still there
    flaky = env.flaky()

    outcome = env.engine(client=flaky, **settings).upload(env.job({"passport": second}))

    assert outcome.failures == {}
    assert outcome.already_stored == {"passport"}
    assert outcome.objects["passport"].key == first.objects["passport"].key
    assert flaky.calls == {"head_object": 1}  # the destination's HEAD, nothing else


def test_a_large_document_sent_once_pays_one_head_then_uploads_as_usual(env: Env) -> None:
    settings = {"reuse_stored_objects": True, "reuse_head_first_bytes": len(LARGE)}
    flaky = env.flaky()

    outcome = env.engine(client=flaky, **settings).upload(
        env.job({"passport": env.stage_s3("a", LARGE)})
    )

    assert outcome.failures == {} and outcome.already_stored == frozenset()
    # The destination's HEAD (absent), the staged blob's HEAD, its GET, the PUT.
    assert flaky.calls == {"head_object": 2, "get_object": 1, "put_object": 1}


def test_a_large_document_whose_source_is_gone_is_headed_once(env: Env) -> None:
    settings = {"reuse_stored_objects": True, "reuse_head_first_bytes": len(LARGE)}
    ref = env.stage_s3("a", LARGE)
    _delete_staged(env, ref.uri)
    flaky = env.flaky()

    outcome = env.engine(client=flaky, **settings).upload(env.job({"passport": ref}))

    assert outcome.failures["passport"].code is C.SOURCE_NOT_FOUND
    assert flaky.calls == {"head_object": 2}  # the destination once, the staged blob once


def test_just_below_the_threshold_a_document_sent_twice_is_uploaded_as_today(env: Env) -> None:
    settings = {"reuse_stored_objects": True, "reuse_head_first_bytes": len(LARGE) + 1}
    env.engine(**settings).upload(env.job({"passport": env.stage_s3("a", LARGE)}))
    flaky = env.flaky()

    outcome = env.engine(client=flaky, **settings).upload(
        env.job({"passport": env.stage_s3("b", LARGE)})
    )

    assert outcome.already_stored == frozenset()
    assert flaky.calls == {"head_object": 1, "get_object": 1, "put_object": 1}


def test_the_head_first_threshold_defaults_to_the_multipart_threshold(env: Env) -> None:
    defaults = env.settings()
    assert defaults.reuse_head_first_bytes == defaults.multipart_threshold_bytes
