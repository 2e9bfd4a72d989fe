"""The lean signed PUT (upload_engine/fast_put.py) against a scripted local S3 endpoint:
when it engages, that its signatures are botocore's, that every failure ends in the same
contract code as on botocore's path, and when it must stay off."""

from __future__ import annotations

import datetime
import hashlib
import io
import ipaddress
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3
import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from moto import mock_aws

from schemas import FileFailureCode as C
from tests.unit.scripted_s3 import RESET, Action, Received, ScriptedS3, Stall, ok, s3_error
from upload_engine import LocalBlob, UploadEngine, UploadJob, UploadOutcome
from upload_engine.s3_client import make_s3_client
from upload_engine.settings import EngineSettings
from upload_engine.verify import b64_of_hex

KEY_ID, SECRET = "AKIDFASTPUTTEST", "fast-put-secret"
DATA = b"%PDF-1.7 fast " * 3000


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def server() -> Iterator[ScriptedS3]:
    made = ScriptedS3()
    yield made
    made.stop()


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., UploadEngine]]:
    made: list[UploadEngine] = []

    def make(endpoint: str | None, client: Any = None, **overrides: Any) -> UploadEngine:
        if endpoint is not None:
            monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        values: dict[str, Any] = {
            "staging_allowlist": [],
            "s3_addressing_style": "path",
            "retry_max_attempts": 2,
            "retry_base_delay_s": 0.001,
            "retry_max_delay_s": 0.002,
            "s3_connect_timeout_s": 0.5,
            "s3_read_timeout_s": 0.3,
        }
        values.update(overrides)
        engine = UploadEngine(EngineSettings(**values), client)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


def upload(engine: UploadEngine, *payloads: bytes, bucket: str = "dest") -> UploadOutcome:
    """One file per payload, one at a time (so the first teaches the rest)."""
    files: dict[str, Any] = {
        f"f{i}": LocalBlob(io.BytesIO(payload), "application/pdf", f"f{i}.pdf")
        for i, payload in enumerate(payloads)
    }
    job = UploadJob(
        request_id="r", user_id="7", file_category="kyc", bucket=bucket, files=files,
        max_workers=1,
    )  # fmt: skip
    return engine.upload(job)


def payloads(n: int) -> list[bytes]:
    return [DATA + i.to_bytes(2, "big") for i in range(n)]


def fast_count(engine: UploadEngine) -> tuple[int, int]:
    assert engine.fast_put is not None
    return engine.fast_put.sent_fast, engine.fast_put.sent_botocore


# --- it engages, and what it writes is what botocore would write ---------------------------


def test_after_the_first_put_per_bucket_puts_go_the_fast_way(
    engines: Callable[..., UploadEngine], server: ScriptedS3
) -> None:
    engine = engines(server.endpoint)
    first, second = payloads(5), payloads(8)[5:]
    one = upload(engine, *first, bucket="dest-one")
    two = upload(engine, *second, bucket="dest-two")
    assert one.failures == two.failures == {}
    assert fast_count(engine) == (6, 2)
    assert [r.from_botocore for r in server.received] == [True, *[False] * 4, True, False, False]
    for request, body in zip(server.received, [*first, *second], strict=True):
        assert request.method == "PUT"
        assert request.body == body
    # What the engine reports comes from the answers, whichever way the request went.
    for outcome, bodies in ((one, first), (two, second)):
        for i, body in enumerate(bodies):
            stored = outcome.objects[f"f{i}"]
            etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
            assert (stored.etag, stored.version_id) == (etag, f"v-{etag[:8]}")
            assert stored.sha256 == hashlib.sha256(body).hexdigest()


def test_fast_requests_carry_what_botocore_sends(
    engines: Callable[..., UploadEngine], server: ScriptedS3
) -> None:
    engine = engines(server.endpoint)
    assert upload(engine, *payloads(2)).failures == {}
    learned, fast = server.received
    assert fast.target.startswith("/dest/kyc/user_7/f1/")
    assert fast.header("User-Agent") == learned.header("User-Agent")
    assert fast.header("Expect") is None
    for name in ("Content-Type", "x-amz-server-side-encryption", "Host"):
        assert fast.header(name) == learned.header(name)
    assert fast.header("x-amz-checksum-sha256") == b64_of_hex(hashlib.sha256(fast.body).hexdigest())


# --- signatures: checked against an unmodified botocore signer -----------------------------


def signed_names(request: Received) -> list[str]:
    auth = request.header("Authorization") or ""
    return auth.split("SignedHeaders=")[1].split(",")[0].split(";")


def resign(request: Received, endpoint: str, token: str | None) -> str:
    """The Authorization header botocore's stock S3SigV4Auth gives the request as received
    (the headers it names as signed, its URL, its body), at its own X-Amz-Date."""
    signed = signed_names(request)
    headers = {name: value for name, value in request.headers if name.lower() in signed}
    rebuilt = AWSRequest(
        request.method, endpoint + request.target, headers=headers, data=request.body
    )
    S3SigV4Auth(Credentials(KEY_ID, SECRET, token), "s3", "us-east-1").add_auth(rebuilt)
    return str(rebuilt.headers["Authorization"])


@pytest.mark.parametrize(
    ("settings", "token", "expected"),
    [
        ({}, None, {"x-amz-server-side-encryption"}),
        ({"sse": "none"}, None, set()),
        (
            {"sse": "aws:kms", "sse_kms_key_id": "arn:aws:kms:us-east-1:111122223333:key/k-1"},
            "session-token-1",
            {
                "x-amz-server-side-encryption",
                "x-amz-server-side-encryption-aws-kms-key-id",
                "x-amz-security-token",
            },
        ),
    ],
    ids=["aes256", "no-sse", "kms-and-session-token"],
)
def test_signature_equals_botocore_signers(
    engines: Callable[..., UploadEngine],
    server: ScriptedS3,
    monkeypatch: pytest.MonkeyPatch,
    settings: dict[str, Any],
    token: str | None,
    expected: set[str],
) -> None:
    if token:
        monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    engine = engines(server.endpoint, **settings)
    assert upload(engine, *payloads(3)).failures == {}
    assert len(server.fast) == 2
    for request in server.fast:
        stamp = request.header("X-Amz-Date") or ""
        frozen = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *_, t=frozen: t)
        assert resign(request, server.endpoint, token) == request.header("Authorization")
        base = {
            "host",
            "content-type",
            "x-amz-content-sha256",
            "x-amz-date",
            "x-amz-checksum-sha256",
            "x-amz-sdk-checksum-algorithm",
        }
        assert set(signed_names(request)) == base | expected
        # A signed payload: the body's own SHA-256 (which S3 checks), on HTTP and HTTPS.
        assert request.header("x-amz-content-sha256") == hashlib.sha256(request.body).hexdigest()
        # The same header set as botocore signed for the first PUT of the bucket.
        assert signed_names(request) == signed_names(server.received[0])


# --- failures: the same contract code as on botocore's path --------------------------------


REGION_HINT = {"x-amz-bucket-region": "eu-west-1"}


def redirect_from_us_east_1(request: Received) -> Action:
    if request.signing_region == "us-east-1":
        return s3_error(301, "PermanentRedirect", **REGION_HINT)
    return ok(request)


def wrong_signing_region(request: Received) -> Action:
    if request.signing_region == "us-east-1":
        reply = s3_error(400, "AuthorizationHeaderMalformed")
        return type(reply)(
            reply.status,
            reply.headers,
            reply.body.replace(b"</Code>", b"</Code><Region>eu-west-1</Region>"),
        )
    return ok(request)


SCENARIOS: dict[str, Callable[[Received], Action] | None] = {
    "slow-down": lambda _: s3_error(503, "SlowDown"),
    "access-denied": lambda _: s3_error(403, "AccessDenied"),
    "no-such-bucket": lambda _: s3_error(404, "NoSuchBucket"),
    "internal-error": lambda _: s3_error(500, "InternalError"),
    "bad-digest": lambda _: s3_error(400, "BadDigest"),
    "reset": lambda _: RESET,
    "read-timeout": lambda _: Stall(1.0),
    "refused": None,  # the server goes away
    "permanent-redirect": redirect_from_us_east_1,
    "wrong-signing-region": wrong_signing_region,
}


def outcome_after_warm_up(
    engines: Callable[..., UploadEngine], scenario: str, *, fast: bool
) -> tuple[Any, ScriptedS3]:
    server = ScriptedS3()
    try:
        engine = engines(server.endpoint, s3_fast_put=fast)
        assert upload(engine, b"warm-up").failures == {}
        respond = SCENARIOS[scenario]
        if respond is None:
            server.stop()
        else:
            server.respond = respond
        outcome = upload(engine, DATA)
        return outcome.failures.get("f0") or outcome.objects["f0"], server
    finally:
        server.stop()


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_failures_end_in_the_same_contract_code(
    engines: Callable[..., UploadEngine], scenario: str
) -> None:
    by_botocore, _ = outcome_after_warm_up(engines, scenario, fast=False)
    by_fast, server = outcome_after_warm_up(engines, scenario, fast=True)
    if scenario != "refused":
        assert not server.received[1].from_botocore  # the failing request was a fast one
    assert type(by_fast) is type(by_botocore)
    if hasattr(by_botocore, "code"):
        assert (by_fast.code, by_fast.message) == (by_botocore.code, by_botocore.message)
    expected = {
        "slow-down": C.THROTTLED,
        "access-denied": C.DESTINATION_DENIED,
        "no-such-bucket": C.DESTINATION_NOT_FOUND,
        "internal-error": C.NETWORK_ERROR,
        "bad-digest": C.CHECKSUM_MISMATCH,
        "reset": C.NETWORK_ERROR,
        "read-timeout": C.TIMEOUT,
        "refused": C.NETWORK_ERROR,
    }
    if scenario in expected:
        assert by_fast.code is expected[scenario]


@pytest.mark.parametrize("scenario", ["access-denied", "bad-digest", "slow-down", "reset"])
def test_failed_puts_are_counted_on_the_path_that_sent_them(
    engines: Callable[..., UploadEngine], scenario: str
) -> None:
    server = ScriptedS3()
    try:
        engine = engines(server.endpoint, retry_max_attempts=2)
        server.respond = SCENARIOS[scenario]  # type: ignore[assignment]
        assert upload(engine, b"first").failures  # botocore's PUTs fail: nothing learned
        server.respond = ok
        assert upload(engine, b"learned").failures == {}
        server.respond = SCENARIOS[scenario]  # type: ignore[assignment]
        assert upload(engine, DATA).failures  # the fast PUTs fail
        attempts = 1 if scenario in ("access-denied", "bad-digest") else 2
        assert fast_count(engine) == (attempts, attempts + 1)
        assert len(server.received) == 2 * attempts + 1
    finally:
        server.stop()


@pytest.mark.parametrize("scenario", ["permanent-redirect", "wrong-signing-region"])
def test_a_region_hint_hands_the_put_to_botocore_and_relearns(
    engines: Callable[..., UploadEngine], server: ScriptedS3, scenario: str
) -> None:
    engine = engines(server.endpoint)
    assert upload(engine, b"warm-up").failures == {}
    server.respond = SCENARIOS[scenario]  # type: ignore[assignment]
    assert upload(engine, *payloads(3)).failures == {}
    seen = [(r.from_botocore, r.signing_region) for r in server.received]
    assert seen == [
        (True, "us-east-1"),  # learned
        (False, "us-east-1"),  # fast: told the bucket lives elsewhere
        (True, "us-east-1"),  # botocore: told the same...
        (True, "eu-west-1"),  # ...follows it, and is learned from
        (False, "eu-west-1"),  # fast again, in the bucket's region
        (False, "eu-west-1"),
    ]
    assert fast_count(engine) == (3, 2)  # the redirected fast PUT was sent too


# --- when it stays off -----------------------------------------------------------------------


def test_switched_off_every_put_goes_through_botocore(
    engines: Callable[..., UploadEngine], server: ScriptedS3
) -> None:
    engine = engines(server.endpoint, s3_fast_put=False)
    assert engine.fast_put is None
    assert upload(engine, *payloads(3)).failures == {}
    assert [r.from_botocore for r in server.received] == [True] * 3


def test_a_client_passed_in_sees_every_put(
    engines: Callable[..., UploadEngine], server: ScriptedS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    client = make_s3_client(EngineSettings(s3_addressing_style="path"), max_pool_connections=10)
    try:
        engine = engines(None, client)
        assert engine.fast_put is None
        assert upload(engine, *payloads(3)).failures == {}
    finally:
        client.close()
    assert [r.from_botocore for r in server.received] == [True] * 3


def test_put_object_patched_on_the_engines_own_client_sees_every_put(
    engines: Callable[..., UploadEngine], server: ScriptedS3
) -> None:
    engine = engines(server.endpoint)
    assert upload(engine, *payloads(2)).failures == {}
    assert fast_count(engine) == (1, 1)
    with patch.object(engine.client, "put_object", return_value={"ETag": '"e"'}) as put:
        assert upload(engine, *payloads(3)).failures == {}
    assert put.call_count == 3
    assert fast_count(engine) == (1, 1 + 3)
    assert len(server.received) == 2


def test_a_proxy_keeps_every_put_on_botocore(
    engines: Callable[..., UploadEngine], server: ScriptedS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scripted server is the proxy; the endpoint's name resolves nowhere.
    monkeypatch.setenv("HTTP_PROXY", server.endpoint)
    engine = engines("http://s3.proxied.invalid")
    assert upload(engine, *payloads(3)).failures == {}
    assert [r.from_botocore for r in server.received] == [True] * 3
    assert all(r.target.startswith("http://s3.proxied.invalid/dest/") for r in server.received)
    assert fast_count(engine) == (0, 3)


def test_no_proxy_for_the_endpoint_lets_it_engage(
    engines: Callable[..., UploadEngine], server: ScriptedS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    engine = engines(server.endpoint)
    assert upload(engine, *payloads(3)).failures == {}
    assert fast_count(engine) == (2, 1)


def test_a_header_botocore_signs_that_we_would_not_send_keeps_botocore(
    engines: Callable[..., UploadEngine], server: ScriptedS3
) -> None:
    engine = engines(server.endpoint)

    def add_tagging(request: Any, **_: Any) -> None:
        request.headers["x-amz-tagging"] = "team=kyc"

    engine.client.meta.events.register("before-sign.s3.PutObject", add_tagging)
    assert upload(engine, *payloads(3)).failures == {}
    assert [r.header("x-amz-tagging") for r in server.received] == ["team=kyc"] * 3
    assert fast_count(engine) == (0, 3)


def test_an_in_process_stub_never_teaches_a_url(engines: Callable[..., UploadEngine]) -> None:
    """moto's mock answers inside botocore: a fast PUT would go to real AWS instead."""
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="dest")
        engine = engines(None)
        outcome = upload(engine, *payloads(3))
        assert outcome.failures == {}
        assert fast_count(engine) == (0, 3)


# --- TLS: verified exactly as botocore verifies ----------------------------------------------


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fast-put test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class TLSServer:
    server: ScriptedS3
    ca_bundle: Path
    context: ssl.SSLContext


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[TLSServer]:
    cert_path, key_path = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    made = ScriptedS3(ssl_context=context)
    yield TLSServer(made, cert_path, context)
    made.stop()


def test_over_tls_it_trusts_the_ca_bundle_botocore_trusts(
    engines: Callable[..., UploadEngine], tls: TLSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tls.ca_bundle))
    engine = engines(tls.server.endpoint)
    assert upload(engine, *payloads(3)).failures == {}
    assert fast_count(engine) == (2, 1)
    # Signed payload over TLS too: the known digest costs nothing, and S3 checks it.
    for request in tls.server.fast:
        assert request.header("x-amz-content-sha256") == hashlib.sha256(request.body).hexdigest()


def test_over_tls_a_certificate_botocore_would_refuse_is_refused(
    engines: Callable[..., UploadEngine],
    tls: TLSServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(tls.ca_bundle))
    tls.server.keep_alive = False  # every request makes a new TLS connection
    fast, plain = engines(tls.server.endpoint), engines(tls.server.endpoint, s3_fast_put=False)
    assert upload(fast, b"warm-up").failures == upload(plain, b"warm-up").failures == {}
    # The server now presents a certificate outside the bundle.
    (tmp_path / "other").mkdir()
    tls.context.load_cert_chain(*self_signed(tmp_path / "other"))
    by_fast, by_botocore = upload(fast, DATA).failures["f0"], upload(plain, DATA).failures["f0"]
    assert by_fast == by_botocore
    assert (by_fast.code, by_fast.message) == (
        C.NETWORK_ERROR,
        "SSLError talking to the destination (after 2 attempts)",
    )
    assert len(tls.server.received) == 2  # only the warm-ups got through
