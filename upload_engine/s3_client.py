"""The one boto3 S3 client the engine shares between all its uploads.

boto3 clients are thread-safe and greenlet-safe; one client means one urllib3 pool, so
connections are reused across jobs. Its pool holds at least as many connections as files
may be in flight, else urllib3 opens extra ones and drops them after each burst.

Its session parses timestamps (every answer's `LastModified`) with the standard library
instead of dateutil: `parse_timestamp`.
"""

from __future__ import annotations

import email.utils
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
import botocore.session
import botocore.utils
from botocore.config import Config

from upload_engine.settings import EngineSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Upload operations whose request body botocore sends with `Expect: 100-continue`.
_BODY_OPERATIONS = ("PutObject", "UploadPart")


def parse_timestamp(value: str) -> datetime:
    """botocore's timestamp parser, through the standard library for the two forms S3 sends
    (RFC 1123 in headers, ISO 8601 in XML); anything else through botocore's own, which
    parses every `LastModified` with dateutil: ~0.07 of the ~1.1 ms of client CPU of a
    HeadObject, ranged GetObject or CopyObject here, 6 % (`python -m bench.s3_call_bench`),
    and a copied file makes three. The same datetimes as botocore's."""
    try:
        if value[:1].isdigit():
            parsed = datetime.fromisoformat(value)
        else:
            parsed = email.utils.parsedate_to_datetime(value)
        if parsed.tzinfo is not None:
            return parsed
    except (ValueError, TypeError, IndexError):
        pass
    return botocore.utils.parse_timestamp(value)


def drop_expect_header(request: Any, **_: Any) -> None:
    """`before-send` hook: send the body straight away instead of asking first.

    botocore adds `Expect: 100-continue` to every PutObject/UploadPart whose body is
    file-like, which costs a whole extra round trip per small file. The header only saves
    bandwidth when the server would refuse a big body; our bodies are at most one part, and
    S3 answers a refused one after reading it anyway. `expect` is not a signed header (botocore's
    SIGNED_HEADERS_BLACKLIST), so removing it after signing leaves the signature valid.
    """
    headers = request.headers
    if "Expect" in headers:
        del headers["Expect"]


def make_s3_client(settings: EngineSettings, *, max_pool_connections: int) -> S3Client:
    """An S3 client with botocore's own retries off (the engine's retry budget rules) and
    checksums only when we pass them (we always pass SHA-256 ourselves, so botocore adds
    no CRC32 and no MD5 of its own)."""
    return open_s3_client(settings, max_pool_connections=max_pool_connections)[0]


def open_s3_client(
    settings: EngineSettings, *, max_pool_connections: int
) -> tuple[S3Client, boto3.session.Session]:
    """`make_s3_client`, and the session whose credentials the client signs with."""
    config = Config(
        max_pool_connections=max(10, max_pool_connections),
        connect_timeout=settings.s3_connect_timeout_s,
        read_timeout=settings.s3_read_timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},
        s3={"addressing_style": settings.s3_addressing_style},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    core = botocore.session.get_session()
    core.get_component("response_parser_factory").set_parser_defaults(
        timestamp_parser=parse_timestamp
    )
    session = boto3.session.Session(botocore_session=core)
    client: S3Client = session.client("s3", config=config)
    if settings.s3_payload_signing == "auto" and client.meta.endpoint_url.startswith("https://"):
        # botocore skips the SigV4 payload hash over TLS only for its *own* checksum header,
        # so with our ChecksumSHA256 it would hash every body a second time. Every object
        # body (PutObject, UploadPart) carries that signed header and S3 rejects bytes that
        # do not match it; the only other body, CompleteMultipartUpload's part list, names
        # each part's checksum, which S3 compares too; TLS covers the transport. The
        # endpoint (AWS_ENDPOINT_URL, config files) is only known once a client exists.
        client.close()
        unsigned = Config(
            s3={"addressing_style": settings.s3_addressing_style, "payload_signing_enabled": False}
        )
        client = session.client("s3", config=config.merge(unsigned))
    install_hooks(client)
    return client, session


def install_hooks(client: Any) -> None:
    """Registers the engine's botocore hooks on a client (also one passed in by a caller)."""
    for operation in _BODY_OPERATIONS:
        client.meta.events.register(
            f"before-send.s3.{operation}",
            drop_expect_header,
            unique_id=f"upload-stream-drop-expect-{operation}",
        )
