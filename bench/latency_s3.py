"""A keep-alive S3 endpoint with injected latency, for benchmarks: `python -m bench.latency_s3`.

moto's WSGI app under gevent.pywsgi (keep-alive, unlike moto's werkzeug server which
closes every connection and so hides connection-pool effects), in its own process (moto
in the client's patched process would share its hub and serialise the client). Every
request waits `--latency` seconds first: one simulated round trip.

A request with `Expect: 100-continue` waits 2 x latency: the client's extra round trip
for "100 Continue" is real on a network, and free on loopback.

Bucket `sink` is not moto: it accepts PutObject and multipart uploads and throws the
bytes away, so a 1 GiB upload can be measured without moto holding 1 GiB in memory.
Prints `PORT <n>` on stdout once listening; stops on SIGTERM.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Iterable  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import parse_qs  # noqa: E402

import gevent  # noqa: E402

from upload_stream_cli.devstack.until_signalled import serve_until_signalled  # noqa: E402
from upload_stream_cli.devstack.wsgi_server import NoDelayWSGIServer  # noqa: E402

SINK = "sink"
StartResponse = Callable[..., Any]


def _drain(environ: dict[str, Any]) -> int:
    stream = environ["wsgi.input"]
    total = 0
    while chunk := stream.read(1024 * 1024):
        total += len(chunk)
    return total


def sink_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    method = environ["REQUEST_METHOD"]
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    key = environ["PATH_INFO"].split("/", 2)[-1]
    xml = [("Content-Type", "application/xml")]
    if method == "POST" and "uploads" in query:
        body = (
            "<InitiateMultipartUploadResult><Bucket>sink</Bucket>"
            f"<Key>{key}</Key><UploadId>sink-upload</UploadId></InitiateMultipartUploadResult>"
        )
        start_response("200 OK", xml)
        return [body.encode()]
    if method == "POST" and "uploadId" in query:
        _drain(environ)
        body = (
            "<CompleteMultipartUploadResult><Bucket>sink</Bucket>"
            f'<Key>{key}</Key><ETag>"sink-etag"</ETag></CompleteMultipartUploadResult>'
        )
        start_response("200 OK", xml)
        return [body.encode()]
    if method == "PUT":
        _drain(environ)
        start_response("200 OK", [("ETag", '"sink-etag"'), ("Content-Length", "0")])
        return [b""]
    start_response("204 No Content", [])
    return [b""]


def with_latency(app: Any, latency: float) -> Any:
    def wrapped(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if latency:
            # A client that sent `Expect: 100-continue` spent one round trip waiting for
            # "100 Continue" before sending the body, and another for the answer.
            expect = environ.get("HTTP_EXPECT", "").lower() == "100-continue"
            gevent.sleep(latency * (2 if expect else 1))
        if environ["PATH_INFO"].startswith(f"/{SINK}/"):
            return sink_app(environ, start_response)
        result: Iterable[bytes] = app(environ, start_response)
        return result

    return wrapped


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latency_s3")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app = with_latency(DomainDispatcherApplication(create_backend_app), args.latency)
    server = NoDelayWSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    print(f"PORT {server.server_port}", flush=True)
    serve_until_signalled(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
