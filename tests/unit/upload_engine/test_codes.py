"""Every file failure code of the contract, fed in through `UploadEngine.upload`."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from schemas import FileFailureCode as C
from tests import samples
from tests.unit.engine_support import Env
from tests.unit.scripted_clamd import scripted_clamd
from upload_engine import LocalBlob

# No type libmagic knows, so the content gate passes it under any declared type.
DATA = b"staged document bytes"


def client_error(code: str, status: int, operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


def only_failure(env: Env, outcome: Any, file_type: str = "doc") -> Any:
    assert outcome.objects == {}
    assert set(outcome.failures) == {file_type}
    assert env.keys() == []
    return outcome.failures[file_type]


def test_source_not_allowed(env: Env) -> None:
    ref = env.stage_file("a.pdf", DATA).model_copy(update={"uri": "file:///etc/hostname"})
    failure = only_failure(env, env.engine().upload(env.job({"doc": ref})))
    assert failure.code is C.SOURCE_NOT_ALLOWED
    assert failure.retryable is False


def test_source_not_found_file(env: Env) -> None:
    ref = env.stage_file("a.pdf", DATA).model_copy(update={"uri": f"file://{env.root}/gone.pdf"})
    assert only_failure(env, env.engine().upload(env.job({"doc": ref}))).code is C.SOURCE_NOT_FOUND


def test_source_not_found_s3(env: Env) -> None:
    ref = env.stage_s3("a.pdf", DATA).model_copy(update={"uri": f"s3://{env.stage}/incoming/nope"})
    assert only_failure(env, env.engine().upload(env.job({"doc": ref}))).code is C.SOURCE_NOT_FOUND


def test_source_unreadable_on_s3_access_denied(env: Env) -> None:
    # Tests run as root, which ignores file mode bits; S3's AccessDenied is the real case.
    ref = env.stage_s3("a.pdf", DATA)
    client = env.flaky()
    client.fail["head_object"] = [client_error("403", 403, "HeadObject")]
    failure = only_failure(env, env.engine(client).upload(env.job({"doc": ref})))
    assert failure.code is C.SOURCE_UNREADABLE
    assert client.calls.get("put_object") is None


def test_source_unreadable_on_get_access_denied(env: Env) -> None:
    ref = env.stage_s3("a.pdf", DATA)
    client = env.flaky()
    client.fail["get_object"] = [client_error("AccessDenied", 403, "GetObject")]
    assert (
        only_failure(env, env.engine(client).upload(env.job({"doc": ref}))).code
        is C.SOURCE_UNREADABLE
    )


def test_size_mismatch_file_longer_than_claimed(env: Env) -> None:
    ref = env.stage_file("a.pdf", DATA, claim=DATA[:-1])
    assert only_failure(env, env.engine().upload(env.job({"doc": ref}))).code is C.SIZE_MISMATCH


def test_size_mismatch_s3(env: Env) -> None:
    ref = env.stage_s3("a.pdf", DATA, claim=DATA + b"!")
    assert only_failure(env, env.engine().upload(env.job({"doc": ref}))).code is C.SIZE_MISMATCH


def test_checksum_mismatch(env: Env) -> None:
    ref = env.stage_file("a.pdf", DATA, claim=DATA.upper())
    failure = only_failure(env, env.engine().upload(env.job({"doc": ref})))
    assert failure.code is C.CHECKSUM_MISMATCH
    assert failure.retryable is False


def test_too_large_by_claim(env: Env) -> None:
    ref = env.stage_file("a.pdf", DATA)
    engine = env.engine(max_file_bytes=len(DATA) - 1)
    assert only_failure(env, engine.upload(env.job({"doc": ref}))).code is C.TOO_LARGE


def test_too_large_by_reading_a_local_blob(env: Env) -> None:
    import io

    engine = env.engine(max_file_bytes=len(DATA) - 1)
    blob = LocalBlob(io.BytesIO(DATA), "application/pdf")
    assert only_failure(env, engine.upload(env.job({"doc": blob}))).code is C.TOO_LARGE


@pytest.mark.parametrize("content_type", ["text/html", "image/svg+xml", "image/jpeg\r\nX-A: b"])
def test_content_type_not_allowed(env: Env, content_type: str) -> None:
    import io

    engine = env.engine(allowed_content_types=["image/jpeg", "image/png", "application/*"])
    blob = LocalBlob(io.BytesIO(DATA), content_type)
    assert (
        only_failure(env, engine.upload(env.job({"doc": blob}))).code is C.CONTENT_TYPE_NOT_ALLOWED
    )


def test_content_type_allowed_by_wildcard(env: Env) -> None:
    engine = env.engine(allowed_content_types=["image/jpeg", "application/*"])
    outcome = engine.upload(
        env.job({"doc": env.stage_file("a.pdf", DATA, content_type="application/pdf")})
    )
    assert list(outcome.objects) == ["doc"]


def test_destination_denied(env: Env) -> None:
    client = env.flaky()
    client.fail["put_object"] = [client_error("AccessDenied", 403, "PutObject")]
    outcome = env.engine(client).upload(env.job({"doc": env.stage_file("a.pdf", DATA)}))
    failure = only_failure(env, outcome)
    assert failure.code is C.DESTINATION_DENIED
    assert client.calls["put_object"] == 1  # permanent: not retried


def test_destination_not_found(env: Env) -> None:
    outcome = env.engine().upload(
        env.job({"doc": env.stage_file("a.pdf", DATA)}, bucket="no-such-bucket")
    )
    failure = only_failure(env, outcome)
    assert failure.code is C.DESTINATION_NOT_FOUND


def test_throttled_past_the_budget(env: Env) -> None:
    client = env.flaky()
    client.fail["put_object"] = [client_error("SlowDown", 503, "PutObject") for _ in range(3)]
    failure = only_failure(
        env, env.engine(client).upload(env.job({"doc": env.stage_file("a.pdf", DATA)}))
    )
    assert failure.code is C.THROTTLED
    assert failure.retryable is True
    assert client.calls["put_object"] == 3
    assert "after 3 attempts" in failure.message


def test_timeout_past_the_budget(env: Env) -> None:
    client = env.flaky()
    client.fail["put_object"] = [ReadTimeoutError(endpoint_url="http://s3") for _ in range(3)]
    failure = only_failure(
        env, env.engine(client).upload(env.job({"doc": env.stage_file("a.pdf", DATA)}))
    )
    assert failure.code is C.TIMEOUT


def test_network_error_past_the_budget(env: Env) -> None:
    client = env.flaky()
    client.fail["put_object"] = [
        EndpointConnectionError(endpoint_url="http://s3") for _ in range(3)
    ]
    failure = only_failure(
        env, env.engine(client).upload(env.job({"doc": env.stage_file("a.pdf", DATA)}))
    )
    assert failure.code is C.NETWORK_ERROR


def test_internal_error_names_the_exception_not_the_data(env: Env) -> None:
    client = env.flaky()
    client.fail["put_object"] = [RuntimeError(DATA.decode())]
    failure = only_failure(
        env, env.engine(client).upload(env.job({"doc": env.stage_file("a.pdf", DATA)}))
    )
    assert failure.code is C.INTERNAL_ERROR
    assert "RuntimeError" in failure.message
    assert "PDF" not in failure.message
    assert client.calls["put_object"] == 1


def test_content_type_mismatch(env: Env) -> None:
    blob = LocalBlob(io.BytesIO(samples.elf_bytes()), "image/jpeg")
    failure = only_failure(env, env.engine().upload(env.job({"doc": blob})))
    assert (failure.code, failure.retryable) == (C.CONTENT_TYPE_MISMATCH, False)


def test_malware_detected(env: Env, tmp_path: Path) -> None:
    with scripted_clamd(tmp_path / "c.sock", lambda _b: b"stream: X.Sig FOUND\0") as clamd:
        engine = env.engine(clamd_address=clamd.address)
        blob = LocalBlob(io.BytesIO(DATA), "application/pdf")
        failure = only_failure(env, engine.upload(env.job({"doc": blob})))
    assert (failure.code, failure.retryable) == (C.MALWARE_DETECTED, False)


def test_scan_failed(env: Env, tmp_path: Path) -> None:
    engine = env.engine(clamd_address=f"unix://{tmp_path}/absent.sock")
    blob = LocalBlob(io.BytesIO(DATA), "application/pdf")
    failure = only_failure(env, engine.upload(env.job({"doc": blob})))
    assert (failure.code, failure.retryable) == (C.SCAN_FAILED, True)


def test_every_contract_code_is_covered_here() -> None:
    import sys

    names = " ".join(n for n in dir(sys.modules[__name__]) if n.startswith("test_"))
    for code in C:
        assert code.value in names, code
