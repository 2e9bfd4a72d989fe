"""Upload tickets: the browser uploads straight to the staging bucket with a presigned POST,
and the web app only signs policies and publishes the request.

    tickets = StagingTickets.from_settings(secret=key)
    batch = tickets.issue(user_id=request.user.pk, files=[DeclaredFile(...), ...])
    # the browser POSTs each file to batch.tickets[file_type].url with .fields
    request = tickets.redeem(user_id=request.user.pk, token=batch.token)  # an UploadRequest
    publisher.publish(request)

A ticket is one presigned POST per declared file, for a fresh key under the staging prefix
in the user's staging scope (`{prefix}{scope}/{random id}`, schemas/staging_scope.py),
whose policy names that exact key, `content-length-range` equal to the declared size, that
exact `Content-Type`, and a short expiry. The token carries the declaration (user id, keys,
sizes, types), signed with HMAC-SHA256, so the server keeps no state between the two calls
and the browser cannot change any of it.

Each condition is enforced by S3 where the endpoint enforces POST policies, and by our own
checks everywhere (moto enforces none): `redeem` HEADs only the token's keys and refuses
objects written after the expiry; the BlobRef carries the signed size, type and sha256, so
the consumer fails any other length (`size_mismatch`) or content (`checksum_mismatch`), and
the destination gets the declared type. The README's "Uploads from the browser" has the
table.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from producer_lib.builder import build_request, new_request_id, normalised_user_id
from producer_lib.errors import ProducerConfigError, ProducerLibError
from producer_lib.s3_staging import S3Stager, default_s3_client
from producer_lib.staging import blob_name
from schemas import BlobRef, UploadRequest, describe_validation_error
from schemas.fields import DEFAULT_MAX_FILES_PER_REQUEST, MimeType, Name, Sha256Hex

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from producer_lib.settings import ProducerSettings

_TOKEN_VERSION = "t1"  # noqa: S105 - a format tag, not a secret
Filename = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f/\\]+$")
]


class TicketError(ProducerLibError):
    """A ticket could not be issued or redeemed. `code` is one of `TICKET_CODES`; the
    message names the rule broken, never a value the browser sent."""

    def __init__(self, code: str, message: str, *, file_type: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.file_type = file_type


# code -> HTTP status the Django views answer with.
TICKET_CODES: dict[str, int] = {
    "invalid_declaration": 400,  # the declared files break a rule (names, type, count)
    "too_large": 400,  # a declared size above UPLOAD_STREAM_MAX_FILE_BYTES
    "invalid_token": 400,  # not a token we signed (or tampered with)
    "wrong_user": 403,  # signed for another user
    "ticket_expired": 410,  # past its expiry plus the submit grace
    "not_uploaded": 409,  # a ticketed key holds no object (yet)
    "uploaded_late": 409,  # the object was written after the ticket expired
    "staging_unavailable": 503,  # the staging bucket could not be asked
}


class DeclaredFile(BaseModel):
    """What the browser says about one file before it uploads it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    file_type: Name
    filename: Filename | None = None
    content_type: MimeType
    size: Annotated[int, Field(ge=0)]
    sha256: Sha256Hex | None = Field(default=None, description="WebCrypto's SHA-256, hex.")


@dataclass(frozen=True)
class Ticket:
    """One presigned POST: send `fields` then the file (last) as multipart/form-data."""

    file_type: str
    key: str
    url: str
    fields: dict[str, str]

    def upload_parameters(self) -> dict[str, Any]:
        """The shape Uppy's AwsS3 plugin expects back from `getUploadParameters`."""
        return {"method": "POST", "url": self.url, "fields": dict(self.fields), "headers": {}}


@dataclass(frozen=True)
class TicketBatch:
    request_id: str
    token: str
    expires_at: datetime
    tickets: dict[str, Ticket] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """What the ticket endpoint returns to the browser."""
        return {
            "request_id": self.request_id,
            "token": self.token,
            "expires_at": self.expires_at.isoformat(),
            "tickets": {k: t.upload_parameters() for k, t in self.tickets.items()},
        }


@dataclass(frozen=True)
class _Claim:
    request_id: str
    user_id: str
    file_category: str
    expires: int
    files: dict[str, dict[str, Any]]


class TokenSigner:
    """HMAC-SHA256 over the claim's JSON; constant-time comparison on the way back."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ProducerConfigError("the ticket secret must be at least 16 bytes")
        self._key = hashlib.sha256(b"upload-stream tickets\x00" + secret).digest()

    def sign(self, claim: _Claim) -> str:
        body = json.dumps(claim.__dict__, separators=(",", ":"), sort_keys=True).encode()
        payload = base64.urlsafe_b64encode(body).decode().rstrip("=")
        return f"{_TOKEN_VERSION}.{payload}.{self._mac(payload)}"

    def verify(self, token: Any) -> _Claim:
        if not isinstance(token, str) or len(token) > 64 * 1024:
            raise TicketError("invalid_token", "the token is not a string of a sane length")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _TOKEN_VERSION:
            raise TicketError("invalid_token", "the token is malformed")
        _version, payload, mac = parts
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise TicketError("invalid_token", "the token's signature does not match")
        try:
            raw = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            return _Claim(**raw)
        except (ValueError, TypeError) as exc:  # signed by us, so only a bug gets here
            raise TicketError("invalid_token", "the token's claim is unreadable") from exc

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._key, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class StagingTickets:
    """Issues presigned POST tickets into an S3 staging root and redeems them."""

    def __init__(
        self,
        *,
        stager: S3Stager,
        secret: bytes,
        max_file_bytes: int,
        expiry_s: int = 900,
        submit_grace_s: int = 3600,
        max_files: int = DEFAULT_MAX_FILES_PER_REQUEST,
        clock: Any = time.time,
    ) -> None:
        self._stager = stager
        self._signer = TokenSigner(secret)
        self._max_file_bytes = max_file_bytes
        self._expiry_s = expiry_s
        self._grace_s = submit_grace_s
        self._max_files = max_files
        self._clock = clock

    @classmethod
    def from_settings(
        cls,
        *,
        secret: bytes,
        settings: ProducerSettings | None = None,
        client: S3Client | None = None,
    ) -> StagingTickets:
        from producer_lib.settings import ProducerSettings
        from upload_engine.settings import EngineSettings

        settings = settings or ProducerSettings()
        uri = settings.staging_uri or ""
        if not uri.startswith("s3://"):
            raise ProducerConfigError(
                "upload tickets need an S3 staging root: set UPLOAD_STREAM_STAGING_URI "
                "to s3://bucket/prefix/"
            )
        return cls(
            stager=S3Stager.from_uri(uri, client=client or default_s3_client()),
            secret=secret,
            max_file_bytes=EngineSettings().max_file_bytes,
            expiry_s=settings.ticket_expiry_s,
            submit_grace_s=settings.ticket_submit_grace_s,
        )

    @property
    def root(self) -> str:
        return self._stager.root

    def issue(
        self,
        user_id: Any,
        files: Sequence[DeclaredFile] | Sequence[Mapping[str, Any]],
        *,
        file_category: str = "general",
    ) -> TicketBatch:
        """One ticket per declared file; `user_id` must come from the server's session."""
        declared = self._declared(files)
        user = normalised_user_id(user_id)
        build_request(  # the category and file types by the contract's rules, before signing
            user_id=user,
            files=dict.fromkeys(
                declared, BlobRef(uri="file:///p", size=0, sha256="0" * 64, content_type="a/b")
            ),
            file_category=file_category,
        )
        now = int(self._clock())
        expires = now + self._expiry_s
        tickets: dict[str, Ticket] = {}
        claimed: dict[str, dict[str, Any]] = {}
        client = self._stager.client
        for file_type, item in declared.items():
            key = f"{self._stager.prefix}{blob_name(user)}"
            post = client.generate_presigned_post(
                Bucket=self._stager.bucket,
                Key=key,
                Fields={"Content-Type": item.content_type},
                Conditions=[
                    {"Content-Type": item.content_type},
                    ["content-length-range", item.size, item.size],
                ],
                ExpiresIn=self._expiry_s,
            )
            fields = {str(k): str(v) for k, v in post["fields"].items()}
            tickets[file_type] = Ticket(file_type, key, str(post["url"]), fields)
            claimed[file_type] = {
                "key": key,
                "size": item.size,
                "content_type": item.content_type,
                "filename": item.filename,
                "sha256": item.sha256,
            }
        claim = _Claim(new_request_id(), user, file_category, expires, claimed)
        return TicketBatch(
            request_id=claim.request_id,
            token=self._signer.sign(claim),
            expires_at=datetime.fromtimestamp(expires, UTC),
            tickets=tickets,
        )

    def redeem(self, user_id: Any, token: Any) -> UploadRequest:
        """The UploadRequest for an uploaded batch (publish it), or TicketError.

        Each ticketed key is HEADed: it must exist and have been written before the
        ticket expired. Size and content type come from the signed declaration (the
        consumer verifies the object against them); the sha256 from S3 when S3 verified
        and stored one, else the declared one (the consumer verifies it while reading).
        """
        claim = self._signer.verify(token)
        if claim.user_id != normalised_user_id(user_id):
            raise TicketError("wrong_user", "the ticket was issued to another user")
        now = self._clock()
        if now > claim.expires + self._grace_s:
            raise TicketError("ticket_expired", "the ticket expired")
        refs = {
            file_type: self._blob_ref(file_type, item, claim.expires)
            for file_type, item in claim.files.items()
        }
        return build_request(
            request_id=claim.request_id,
            user_id=claim.user_id,
            files=refs,
            file_category=claim.file_category,
        )

    def _blob_ref(self, file_type: str, item: Mapping[str, Any], expires: int) -> BlobRef:
        bucket, key = self._stager.bucket, str(item["key"])
        try:
            head = self._stager.client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise TicketError(
                    "not_uploaded", f"{file_type} was not uploaded", file_type=file_type
                ) from None
            raise TicketError(
                "staging_unavailable", f"the staging bucket answered {code}", file_type=file_type
            ) from None
        except BotoCoreError as exc:
            raise TicketError(
                "staging_unavailable", f"the staging bucket: {type(exc).__name__}"
            ) from None
        written = head.get("LastModified")
        if isinstance(written, datetime) and written.timestamp() > expires + 1:
            raise TicketError(
                "uploaded_late",
                f"{file_type} was uploaded after its ticket expired",
                file_type=file_type,
            )
        sha256 = _stored_sha256(head.get("ChecksumSHA256")) or item.get("sha256")
        if not sha256:
            raise TicketError(
                "invalid_declaration",
                f"{file_type}: no sha256 declared and the staging bucket holds none",
                file_type=file_type,
            )
        return BlobRef(
            uri=f"s3://{bucket}/{key}",
            size=int(item["size"]),
            sha256=str(sha256),
            content_type=str(item["content_type"]),
            filename=item.get("filename"),
        )

    def _declared(
        self, files: Sequence[DeclaredFile] | Sequence[Mapping[str, Any]]
    ) -> dict[str, DeclaredFile]:
        if not isinstance(files, Sequence) or isinstance(files, (str, bytes)) or not files:
            raise TicketError("invalid_declaration", "files: a non-empty list is required")
        if len(files) > self._max_files:
            raise TicketError("invalid_declaration", f"files: more than {self._max_files}")
        out: dict[str, DeclaredFile] = {}
        for index, raw in enumerate(files):
            try:
                item = raw if isinstance(raw, DeclaredFile) else DeclaredFile.model_validate(raw)
            except ValidationError as exc:
                raise TicketError(
                    "invalid_declaration", f"files[{index}]: {describe_validation_error(exc)}"
                ) from None
            if item.file_type in out:
                raise TicketError("invalid_declaration", f"files[{index}]: file_type repeated")
            if item.size > self._max_file_bytes:
                raise TicketError(
                    "too_large",
                    f"{item.file_type}: {item.size} bytes is more than the limit of "
                    f"{self._max_file_bytes}",
                    file_type=item.file_type,
                )
            out[item.file_type] = item
        return out


def _stored_sha256(value: Any) -> str | None:
    """S3's full-object SHA-256 as hex; None for none or a per-part (`<b64>-<n>`) one."""
    if not isinstance(value, str) or "-" in value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        return None
    return raw.hex() if len(raw) == 32 else None


__all__ = [
    "TICKET_CODES",
    "DeclaredFile",
    "StagingTickets",
    "Ticket",
    "TicketBatch",
    "TicketError",
    "normalised_user_id",
]
