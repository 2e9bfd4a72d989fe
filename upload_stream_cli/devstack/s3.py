"""An S3 endpoint for the local stack: moto in server mode, in its own process.

Its own process because moto in the same gevent-patched process as the client shares the hub
(16 concurrent uploads are no faster than one) and keeps every object in memory for good; a
separate process measures real client concurrency and gives the memory back when it stops.
"""

from __future__ import annotations

import http.client
import logging
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Self

from upload_stream_cli.devstack.errors import StackError
from upload_stream_cli.devstack.lifecycle import ChildProcessService
from upload_stream_cli.devstack.ports import LOOPBACK, http_answers
from upload_stream_cli.devstack.process import launch, make_workdir, tail

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REGION = "us-east-1"

#: What a client of the local moto needs besides AWS_ENDPOINT_URL. moto accepts any key, but
#: botocore refuses to sign without one, and must not go looking on an EC2 metadata service.
FAKE_AWS_ENV: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}

# The checkout (or site-packages) that holds `upload_stream_cli`, so `-m` works in the child
# even when the package is used from a source tree without being installed.
_IMPORT_ROOT = Path(__file__).resolve().parents[2]


def s3_client(endpoint: str, *, fake_credentials: bool = False) -> S3Client:
    """A boto3 S3 client for `endpoint`; with `fake_credentials`, the moto ones.

    boto3 is imported here, not at module level: importing botocore before gevent patches
    the standard library breaks clients later (RecursionError in ssl).
    """
    import boto3

    if fake_credentials:
        return boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        )
    return boto3.client("s3", endpoint_url=endpoint)


def create_buckets(endpoint: str, names: Iterable[str], *, fake_credentials: bool = False) -> None:
    """Create buckets on `endpoint`; buckets we already own are left as they are."""
    client = s3_client(endpoint, fake_credentials=fake_credentials)
    try:
        for name in names:
            try:
                client.create_bucket(Bucket=name)
            except client.exceptions.BucketAlreadyOwnedByYou:
                pass
            except Exception as exc:
                raise StackError(f"could not create bucket {name!r} on {endpoint}: {exc}") from exc
    finally:
        client.close()


def staging_bucket_rules(
    client: S3Client,
    bucket: str,
    *,
    prefix: str = "",
    allowed_origins: Iterable[str] = ("*",),
    expire_days: int = 7,
) -> None:
    """CORS for browser uploads (presigned POSTs from the web app's pages) and a lifecycle
    rule that expires staged blobs and incomplete multipart uploads after `expire_days`:
    the backstop behind the consumer's deletes and `upload-stream staging sweep`. A server
    without lifecycle rules (versitygw answers NotImplemented) gets CORS only, and a
    warning: the consumer's deletes and the sweep still run."""
    from botocore.exceptions import ClientError

    client.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": ["POST"],
                    "AllowedOrigins": list(allowed_origins),
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )
    try:
        client.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": "upload-stream-staging-expiry",
                        "Filter": {"Prefix": prefix},
                        "Status": "Enabled",
                        "Expiration": {"Days": expire_days},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": expire_days},
                    }
                ]
            },
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NotImplemented":
            raise
        logging.getLogger(__name__).warning(
            "%s has no lifecycle rules (NotImplemented): staged blobs have no expiry backstop",
            bucket,
        )


class LocalS3Server(ChildProcessService):
    """An S3 server of the local stack in a child process that dies with this one, on
    `http://127.0.0.1:PORT`. `start()` = `launch()` + `wait_ready()`; the split lets the
    stack start it and the broker side by side. `kind` names its log file and its errors."""

    kind = "s3"
    port = 0
    start_timeout = 60.0

    @property
    def endpoint(self) -> str:
        """`http://127.0.0.1:PORT`, valid once `wait_ready()` returned."""
        if self.port == 0:
            raise StackError(f"{self.kind} has no port yet: call start() first")
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def log_path(self) -> Path | None:
        return self._workdir / f"{self.kind}.log" if self._workdir else None

    def start(self) -> Self:
        """Start the server and wait until it answers HTTP."""
        self.launch()
        self.wait_ready()
        return self

    def launch(self) -> None:
        """Start the process without waiting for it."""
        raise NotImplementedError

    def wait_ready(self) -> None:
        """Wait until it answers HTTP; on failure stop it and raise `StackError`."""
        raise NotImplementedError

    def _log_tail(self) -> str:
        path = self.log_path
        return f"--- {path} ---\n{tail(path)}" if path else ""


class MotoS3Server(LocalS3Server):
    """moto's S3 on `http://127.0.0.1:PORT`, in a child process that dies with this one.

    Port 0 lets the server bind a free port itself (no race) and report it through a file.
    """

    kind = "moto"

    def __init__(
        self, *, port: int = 0, start_timeout: float = 60.0, stop_timeout: float = 10.0
    ) -> None:
        self.port = port
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._workdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        if self.running:
            return
        self._workdir = make_workdir("moto")
        port_file = self._workdir / "port"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_IMPORT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        argv = [sys.executable, "-m", "upload_stream_cli.devstack.s3_server"]
        argv += ["--port", str(self.port), "--port-file", str(port_file)]
        self._proc = launch(argv, log=self._workdir / "moto.log", env=env)

    def wait_ready(self) -> None:
        """Wait for the bound port, then for an HTTP answer."""
        assert self._workdir is not None
        port_file = self._workdir / "port"

        def answers() -> bool:
            if not port_file.is_file():
                return False
            self.port = int(port_file.read_text(encoding="utf-8"))
            return http_answers(self.port, "/moto-api/")

        self._await_ready("the moto S3 server", answers, self.start_timeout, self._log_tail)

    def reset(self) -> None:
        """Drop every bucket and object (moto's /moto-api/reset)."""
        conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=30)
        try:
            conn.request("POST", "/moto-api/reset")
            conn.getresponse().read()
        finally:
            conn.close()
