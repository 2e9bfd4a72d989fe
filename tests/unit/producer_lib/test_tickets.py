"""Upload tickets against moto in-process: what the policy says, and that each condition
holds through our own checks although moto enforces none of them on a POST."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pytest
import requests

from producer_lib.s3_staging import S3Stager
from producer_lib.tickets import DeclaredFile, StagingTickets, TicketBatch, TicketError
from schemas import FileFailureCode, staging_scope
from tests.unit.engine_support import STAGE_PREFIX, Env, sha

PDF = b"%PDF-1.4 passport scan " * 40
SECRET = b"0123456789abcdef-test-secret"


def _tickets(env: Env, **overrides: Any) -> StagingTickets:
    values: dict[str, Any] = {
        "stager": S3Stager(env.stage, STAGE_PREFIX, client=env.client),
        "secret": SECRET,
        "max_file_bytes": 10_000,
    }
    values.update(overrides)
    return StagingTickets(**values)


def _declare(data: bytes = PDF, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "file_type": "passport",
        "filename": "scan.pdf",
        "content_type": "application/pdf",
        "size": len(data),
        "sha256": sha(data),
    }
    values.update(overrides)
    return values


def _post(batch: TicketBatch, file_type: str, data: bytes, **field_overrides: str) -> int:
    ticket = batch.tickets[file_type]
    fields = {**ticket.fields, **field_overrides}
    response = requests.post(ticket.url, data=fields, files={"file": ("blob", data)}, timeout=10)
    return response.status_code


def _policy(batch: TicketBatch, file_type: str) -> dict[str, Any]:
    encoded = batch.tickets[file_type].fields["policy"]
    policy: dict[str, Any] = json.loads(base64.b64decode(encoded))
    return policy


def test_the_policy_names_the_key_the_exact_size_and_type_and_expires_in_15_minutes(
    env: Env,
) -> None:
    before = time.time()
    batch = _tickets(env).issue(7, [_declare()], file_category="kyc")

    ticket = batch.tickets["passport"]
    # A fresh key in user 7's staging scope (the consumer reads it only for user 7).
    scope, _, blob_id = ticket.key.removeprefix(STAGE_PREFIX).partition("/")
    assert ticket.key.startswith(STAGE_PREFIX) and scope == staging_scope("7")
    assert re.fullmatch(r"[0-9a-f]{32}", blob_id)
    policy = _policy(batch, "passport")
    conditions = policy["conditions"]
    assert {"bucket": env.stage} in conditions
    assert {"key": ticket.key} in conditions
    assert {"Content-Type": "application/pdf"} in conditions
    assert ["content-length-range", len(PDF), len(PDF)] in conditions
    assert abs(batch.expires_at.timestamp() - (before + 900)) < 5
    assert ticket.upload_parameters()["method"] == "POST"
    assert ticket.upload_parameters()["fields"]["key"] == ticket.key


def test_each_ticket_gets_a_fresh_key(env: Env) -> None:
    tickets = _tickets(env)
    one = tickets.issue(7, [_declare(), _declare(file_type="selfie")])
    two = tickets.issue(7, [_declare()])
    keys = [t.key for t in one.tickets.values()] + [two.tickets["passport"].key]
    assert len(set(keys)) == 3


def test_a_declared_size_above_the_limit_gets_no_ticket(env: Env) -> None:
    with pytest.raises(TicketError) as caught:
        _tickets(env, max_file_bytes=100).issue(7, [_declare(size=101)])
    assert caught.value.code == "too_large"
    assert caught.value.file_type == "passport"


@pytest.mark.parametrize(
    "declared",
    [
        [],
        [_declare(file_type="../etc")],
        [_declare(content_type="not a type")],
        [_declare(sha256="ABC")],
        [_declare(size=-1)],
        [_declare(filename="a/b.pdf")],
        [_declare(), _declare()],
        [{**_declare(), "user_id": "someone-else"}],
    ],
    ids=["none", "file-type", "mime", "sha", "size", "filename", "repeated", "user-id-field"],
)
def test_bad_declarations_are_refused_by_rule(env: Env, declared: list[Any]) -> None:
    with pytest.raises(TicketError) as caught:
        _tickets(env).issue(7, declared)
    assert caught.value.code == "invalid_declaration"


def test_uploaded_then_redeemed_is_the_request_of_the_ticket(env: Env) -> None:
    tickets = _tickets(env)
    batch = tickets.issue(7, [_declare()], file_category="kyc")
    assert _post(batch, "passport", PDF) == 204

    request = tickets.redeem(7, batch.token)

    assert request.request_id == batch.request_id
    assert request.user_id == "7"
    assert request.file_category == "kyc"
    ref = request.files["passport"]
    assert ref.uri == f"s3://{env.stage}/{batch.tickets['passport'].key}"
    assert (ref.size, ref.sha256, ref.content_type) == (len(PDF), sha(PDF), "application/pdf")
    assert ref.filename == "scan.pdf"


def test_a_sha256_stored_by_s3_wins_over_the_declared_one(env: Env) -> None:
    tickets = _tickets(env)
    batch = tickets.issue(7, [_declare(sha256=None)])
    key = batch.tickets["passport"].key
    env.client.put_object(
        Bucket=env.stage,
        Key=key,
        Body=PDF,
        ChecksumAlgorithm="SHA256",
        ChecksumSHA256=base64.b64encode(bytes.fromhex(sha(PDF))).decode(),
    )
    assert tickets.redeem(7, batch.token).files["passport"].sha256 == sha(PDF)


def test_no_declared_sha256_and_none_stored_is_refused(env: Env) -> None:
    tickets = _tickets(env)
    batch = tickets.issue(7, [_declare(sha256=None)])
    assert _post(batch, "passport", PDF) == 204
    with pytest.raises(TicketError) as caught:
        tickets.redeem(7, batch.token)
    assert caught.value.code == "invalid_declaration"


def test_another_user_cannot_redeem(env: Env) -> None:
    tickets = _tickets(env)
    batch = tickets.issue(7, [_declare()])
    _post(batch, "passport", PDF)
    with pytest.raises(TicketError) as caught:
        tickets.redeem(8, batch.token)
    assert caught.value.code == "wrong_user"


@pytest.mark.parametrize("mangle", ["payload", "mac", "version", "garbage", "not-a-string"])
def test_a_tampered_token_is_refused(env: Env, mangle: str) -> None:
    tickets = _tickets(env)
    batch = tickets.issue(7, [_declare()])
    version, payload, mac = batch.token.split(".")
    claim = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claim["files"]["passport"]["size"] = 10**9
    forged = base64.urlsafe_b64encode(json.dumps(claim).encode()).decode().rstrip("=")
    token: Any = {
        "payload": f"{version}.{forged}.{mac}",
        "mac": f"{version}.{payload}.{mac[:-2]}AA",
        "version": f"t9.{payload}.{mac}",
        "garbage": "....",
        "not-a-string": {"token": batch.token},
    }[mangle]
    with pytest.raises(TicketError) as caught:
        tickets.redeem(7, token)
    assert caught.value.code == "invalid_token"


def test_a_token_signed_with_another_secret_is_refused(env: Env) -> None:
    batch = _tickets(env, secret=b"another-secret-of-16-bytes").issue(7, [_declare()])
    with pytest.raises(TicketError) as caught:
        _tickets(env).redeem(7, batch.token)
    assert caught.value.code == "invalid_token"


def test_a_token_past_expiry_and_grace_is_refused(env: Env) -> None:
    now = [1_000_000.0]
    tickets = _tickets(env, clock=lambda: now[0], expiry_s=900, submit_grace_s=60)
    batch = tickets.issue(7, [_declare()])
    now[0] += 961
    with pytest.raises(TicketError) as caught:
        tickets.redeem(7, batch.token)
    assert caught.value.code == "ticket_expired"


def test_nothing_uploaded_is_refused(env: Env) -> None:
    tickets = _tickets(env)
    batch = tickets.issue(7, [_declare()])
    with pytest.raises(TicketError) as caught:
        tickets.redeem(7, batch.token)
    assert (caught.value.code, caught.value.file_type) == ("not_uploaded", "passport")


# -- each policy condition, where the endpoint (moto) does not enforce it --


def test_key_condition_an_upload_to_another_key_is_never_published(env: Env) -> None:
    tickets = _tickets(env)
    batch = tickets.issue(7, [_declare()])
    other = f"{STAGE_PREFIX}{'f' * 32}"
    assert _post(batch, "passport", PDF, key=other) == 204  # moto took it anyway
    with pytest.raises(TicketError) as caught:
        tickets.redeem(7, batch.token)
    assert caught.value.code == "not_uploaded"


def test_expiry_condition_an_object_written_after_expiry_is_refused(env: Env) -> None:
    # Issued "an hour ago" by the clock: the ticket expired before the upload happened.
    tickets = _tickets(env, clock=lambda: time.time() - 3600, expiry_s=900, submit_grace_s=7200)
    batch = tickets.issue(7, [_declare()])
    assert _post(batch, "passport", PDF) == 204  # moto ignores the policy's expiration
    with pytest.raises(TicketError) as caught:
        tickets.redeem(7, batch.token)
    assert caught.value.code == "uploaded_late"


def test_length_condition_a_longer_upload_fails_with_size_mismatch(env: Env) -> None:
    tickets = _tickets(env)
    batch = tickets.issue(7, [_declare()])
    assert _post(batch, "passport", PDF + b"more") == 204  # moto ignores the length range
    request = tickets.redeem(7, batch.token)
    assert request.files["passport"].size == len(PDF)  # the signed size, not the object's

    outcome = env.engine().upload(env.job(dict(request.files), user_id="7"))

    assert outcome.failures["passport"].code is FileFailureCode.SIZE_MISMATCH
    assert env.keys() == []


def test_checksum_a_wrong_declared_sha256_fails_with_checksum_mismatch(env: Env) -> None:
    tickets = _tickets(env)
    batch = tickets.issue(7, [_declare(sha256=sha(b"something else"))])
    assert _post(batch, "passport", PDF) == 204
    request = tickets.redeem(7, batch.token)

    outcome = env.engine().upload(env.job(dict(request.files), user_id="7"))

    assert outcome.failures["passport"].code is FileFailureCode.CHECKSUM_MISMATCH
    assert env.keys() == []


def test_type_condition_the_destination_gets_the_declared_type(env: Env) -> None:
    tickets = _tickets(env)
    batch = tickets.issue(7, [_declare()])
    assert _post(batch, "passport", PDF, **{"Content-Type": "text/html"}) == 204
    request = tickets.redeem(7, batch.token)

    outcome = env.engine().upload(env.job(dict(request.files), user_id="7"))

    stored = outcome.objects["passport"]
    head = env.client.head_object(Bucket=env.dest, Key=stored.key)
    assert (stored.content_type, head["ContentType"]) == ("application/pdf", "application/pdf")


def test_declared_file_model_forbids_unknown_fields() -> None:
    with pytest.raises(ValueError):
        DeclaredFile.model_validate({**_declare(), "bucket": "elsewhere"})
