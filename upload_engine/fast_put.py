"""A lean signed PutObject for small single PUTs: a fraction of botocore's client CPU.

Why: botocore's full pipeline (events, endpoint ruleset, validation, serializer, signer,
HTTP session, parser) is most of a small PutObject's client CPU, and the engine's
greenlets share one core. With many files in flight at a real round trip, that CPU, not
the network, set the pace (the figures: `make bench`, the README's upload engine table).

Only for the engine's own client, and only what botocore already decided is copied:

- The first PutObject to each bucket goes through botocore. Two hooks record the URL it
  used (path or virtual style, custom endpoint, FIPS, dual-stack, a region redirect:
  whatever botocore resolved), the region of its SigV4 scope and its User-Agent, and that
  the request really went out over botocore's HTTP session (not a stub) and succeeded.
- Later PUTs to that bucket are built here with the same headers, signed by botocore's own
  `S3SigV4Auth` with the session's credentials (frozen per call, so refreshable ones
  refresh) and sent over urllib3 pools that connect like botocore's (fast_http.py). The
  signed payload hash is the body's SHA-256, already known and verified: free, on HTTP and
  HTTPS alike.
- A success is put_object's dict (its header fields: ETag, VersionId, ChecksumSHA256, ...);
  an error is parsed by botocore's own rest-xml parser and raised as the same `ClientError`
  subclass, a transport failure as the same botocore exception, so classify.py and
  retry.py cannot tell the two paths apart.
- Anything else goes to botocore: a `put_object` patched on the client itself, a redirect
  or region hint (the bucket is forgotten and re-learned from botocore's retry), a proxy,
  any scheme but SigV4 for service `s3` (S3 Express, SigV4a, anonymous), a header botocore
  signed that this path would not send, a parameter this path does not know.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import urllib3
from botocore.auth import SIGNED_HEADERS_BLACKLIST, S3SigV4Auth
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from botocore.utils import percent_encode

from upload_engine.fast_http import ConnectionPools, send
from upload_engine.settings import EngineSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# put_object parameters this path sends, and the header each one becomes.
_HEADER_OF = {
    "ContentType": "Content-Type",
    "ChecksumAlgorithm": "x-amz-sdk-checksum-algorithm",
    "ChecksumSHA256": "x-amz-checksum-sha256",
    "ServerSideEncryption": "x-amz-server-side-encryption",
    "SSEKMSKeyId": "x-amz-server-side-encryption-aws-kms-key-id",
}
_PARAMS = frozenset({"Bucket", "Key", "Body", *_HEADER_OF})
# Headers botocore may sign for such a PutObject; any other means a hook or a botocore
# release added something this path would drop, so the bucket is not learned.
_SIGNABLE = frozenset(
    {"host", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token"}
    | {header.lower() for header in _HEADER_OF.values()}
)
_SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256 Credential=[^/,\s]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}"
)
# Errors botocore's S3 region redirector acts on (S3RegionRedirectorv2.redirect_from_error).
_REDIRECTS = frozenset(
    {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}
)


@dataclass(frozen=True)
class _Endpoint:
    base: str  # the URL up to the quoted key, e.g. "https://b.s3.eu-west-1.amazonaws.com/"
    path: str  # its path part, e.g. "/" (virtual-hosted) or "/b/" (path style)
    host: str  # the Host header: host[:port], no default port (as botocore and urllib3)
    region: str
    user_agent: str
    pool: urllib3.HTTPConnectionPool


@dataclass
class _Learning:
    """One botocore PutObject being watched by the hooks (in its own greenlet or thread)."""

    bucket: str
    key: str
    seen: tuple[str, str, str] | None = None  # base URL, region, User-Agent
    answered: bool = False  # 2xx from botocore's own HTTP session


_LEARNING: ContextVar[_Learning | None] = ContextVar("upload_stream_fast_put", default=None)


@dataclass
class _Request:
    """What `S3SigV4Auth` reads and writes of a request. AWSRequest's email-based headers
    are costly to build per PUT; urllib3's dict is case-insensitive too, and is sent as is."""

    url: str
    headers: urllib3.HTTPHeaderDict
    context: dict[str, Any]
    method: str = "PUT"
    params: dict[str, str] = field(default_factory=dict)
    body: None = None


class _SignedHeaders(dict[str, str]):
    def get_all(self, name: str) -> list[str]:
        return [self[name]]


class _KnownPayloadAuth(S3SigV4Auth):
    """botocore's S3 signer (canonical request, string to sign, signature, header: all its
    own), told the body's SHA-256 instead of hashing the body again, with its header
    selection in a plain dict instead of an HTTPHeaders built twice per signature. Tests
    check every signature against an unmodified `S3SigV4Auth`."""

    def payload(self, request: Any) -> str:
        return str(request.context["payload_sha256"])

    def headers_to_sign(self, request: Any) -> Any:
        # As botocore: every header but SIGNED_HEADERS_BLACKLIST, names lower-cased. `Host`
        # is always among our request's headers (botocore would derive the same value).
        return _SignedHeaders(
            (name.lower(), value)
            for name, value in request.headers.items()
            if name.lower() not in SIGNED_HEADERS_BLACKLIST
        )


def _host_header(url: str) -> str:
    """host[:port] as botocore's signer and urllib3 both derive it (no default port)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _text(value: object) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value or "")


class FastPut:
    """`put_object(params, sha256_hex)`: the client's put_object, faster once learned."""

    def __init__(self, client: S3Client, credentials: Credentials, pools: ConnectionPools) -> None:
        self._client = client
        self._credentials = credentials
        self._pools = pools
        self._endpoints: dict[str, _Endpoint] = {}
        self._parser = create_parser("rest-xml")
        output = client.meta.service_model.operation_model("PutObject").output_shape
        assert output is not None
        self._output = output
        self._string_fields = {
            member.serialization["name"].lower(): name
            for name, member in output.members.items()
            if member.serialization.get("location") == "header" and member.type_name == "string"
        }
        # PutObject calls each way, whatever the answer (errors, redirects and retried
        # attempts count too): the split of the PUTs really sent, for bench and debugging.
        self.sent_fast = 0
        self.sent_botocore = 0
        events = client.meta.events
        events.register(
            "before-send.s3.PutObject", self._seen, unique_id="upload-stream-fast-put-seen"
        )
        events.register(
            "after-call.s3.PutObject", self._answered, unique_id="upload-stream-fast-put-ok"
        )

    @classmethod
    def for_client(
        cls, client: S3Client, credentials: Credentials | None, settings: EngineSettings
    ) -> FastPut | None:
        """None when this client's HTTP session cannot be copied or there are no
        credentials (botocore then fails or signs as it always does)."""
        http_session = getattr(getattr(client, "_endpoint", None), "http_session", None)
        pools = ConnectionPools.like(http_session, settings)
        if pools is None or credentials is None:
            return None
        return cls(client, credentials, pools)

    def close(self) -> None:
        self._pools.close()

    def put_object(self, params: dict[str, Any], sha256_hex: str) -> dict[str, Any]:
        """`params` as for `client.put_object`; `sha256_hex` the verified digest of Body."""
        endpoint = self._endpoints.get(params["Bucket"])
        if (
            endpoint is None
            or not _PARAMS.issuperset(params)
            or type(params["Body"]) is not bytes
            # put_object replaced on this very client (`patch.object(engine.client, ...)`):
            # the replacement gets every call.
            or "put_object" in vars(self._client)
        ):
            return self._botocore(params)
        response = self._fast(endpoint, params, sha256_hex)
        if response is None:
            # A redirect or region hint: botocore follows it; its retry is learned anew.
            if self._endpoints.get(params["Bucket"]) is endpoint:
                del self._endpoints[params["Bucket"]]
            return self._botocore(params)
        return response

    def _botocore(self, params: dict[str, Any]) -> dict[str, Any]:
        learning = _Learning(params["Bucket"], params["Key"])
        token = _LEARNING.set(learning)
        try:
            response: dict[str, Any] = self._client.put_object(**params)  # type: ignore[assignment]
        finally:
            _LEARNING.reset(token)
            self.sent_botocore += 1
        if learning.answered and learning.seen is not None:
            self._learn(learning.bucket, *learning.seen)
        return response

    def _seen(self, request: Any, **_: Any) -> None:
        """before-send: the request botocore is about to send (the last attempt counts)."""
        learning = _LEARNING.get()
        if learning is None:
            return
        learning.seen, learning.answered = None, False
        url: str = request.url
        quoted = percent_encode(learning.key, safe="/~")  # as botocore's rest serializer
        match = _SIGV4.fullmatch(_text(request.headers.get("Authorization")))
        if (
            request.method != "PUT"
            or match is None
            or not url.endswith("/" + quoted)
            or "?" in url
            or "#" in url
        ):
            return
        region, service, signed = match.groups()
        if service != "s3" or not _SIGNABLE.issuperset(signed.split(";")):
            return
        learning.seen = (url[: -len(quoted)], region, _text(request.headers.get("User-Agent")))

    def _answered(self, http_response: Any = None, **_: Any) -> None:
        """after-call: a 2xx that came over botocore's HTTP session (a stub such as moto's
        in-process mock answers with something else, and must never teach a real URL)."""
        learning = _LEARNING.get()
        if learning is not None and http_response is not None:
            learning.answered = 200 <= http_response.status_code < 300 and isinstance(
                getattr(http_response, "raw", None), urllib3.BaseHTTPResponse
            )

    def _learn(self, bucket: str, base: str, region: str, user_agent: str) -> None:
        if self._pools.proxied(base):
            return
        parts = urlsplit(base)
        pool = self._pools.for_origin(f"{parts.scheme}://{parts.netloc}")
        host = _host_header(base)
        self._endpoints[bucket] = _Endpoint(base, parts.path, host, region, user_agent, pool)

    def _fast(
        self, endpoint: _Endpoint, params: dict[str, Any], sha256_hex: str
    ) -> dict[str, Any] | None:
        body: bytes = params["Body"]
        quoted = percent_encode(params["Key"], safe="/~")
        url = endpoint.base + quoted
        headers = urllib3.HTTPHeaderDict({"Host": endpoint.host})
        for name, value in params.items():
            if name in _HEADER_OF:
                headers[_HEADER_OF[name]] = value
        request = _Request(url, headers, {"payload_sha256": sha256_hex})
        credentials = self._credentials.get_frozen_credentials()
        _KnownPayloadAuth(credentials, "s3", endpoint.region).add_auth(request)  # type: ignore[arg-type]
        # Not signed, as with botocore: User-Agent is on SigV4's exclusion list.
        headers["User-Agent"] = endpoint.user_agent
        headers["Content-Length"] = str(len(body))
        self.sent_fast += 1
        status, response_headers, data = send(
            endpoint.pool, url, endpoint.path + quoted, headers, body
        )
        if 200 <= status < 300:
            return self._success(status, response_headers)
        raw = {"status_code": status, "headers": response_headers, "body": data}
        parsed: dict[str, Any] = self._parser.parse(raw, self._output)
        code = parsed.get("Error", {}).get("Code")
        hint = response_headers.get("x-amz-bucket-region")
        if 300 <= status < 400 or code in _REDIRECTS or (hint and hint != endpoint.region):
            return None
        error_class: Any = self._client.exceptions.from_code(code)  # as botocore's client does
        raise error_class(parsed, "PutObject")

    def _success(self, status: int, headers: urllib3.HTTPHeaderDict) -> dict[str, Any]:
        """put_object's answer: its string header fields (ETag, VersionId, ChecksumSHA256,
        ServerSideEncryption, ...), as botocore's parser reads them, without its parser."""
        metadata: dict[str, Any] = {
            "HTTPStatusCode": status,
            "HTTPHeaders": {name.lower(): value for name, value in headers.items()},
            "RetryAttempts": 0,
        }
        for header, name in (("x-amz-request-id", "RequestId"), ("x-amz-id-2", "HostId")):
            if header in headers:
                metadata[name] = headers[header]
        result: dict[str, Any] = {"ResponseMetadata": metadata}
        for header, value in headers.items():
            field_name = self._string_fields.get(header.lower())
            if field_name is not None:
                result[field_name] = value
        return result
