"""moto's S3 over HTTP, served by gevent.pywsgi: `python -m upload_stream_cli.devstack.s3_server`.

A program, not a library module: it monkey-patches on import, so only ever run it with -m
(`s3.MotoS3Server` does). moto's own server (werkzeug) answers `Connection: close` to every
request, which hides connection-pool behaviour; pywsgi keeps connections alive. moto's
backend locks are threading locks, hence patch_all before moto is imported.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

from upload_stream_cli.devstack.ports import LOOPBACK  # noqa: E402
from upload_stream_cli.devstack.process import write_atomically  # noqa: E402
from upload_stream_cli.devstack.until_signalled import serve_until_signalled  # noqa: E402
from upload_stream_cli.devstack.wsgi_server import NoDelayWSGIServer  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m upload_stream_cli.devstack.s3_server")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app = DomainDispatcherApplication(create_backend_app)
    # log=None: no access-log line per request; errors still go to stderr (the launcher's log).
    server = NoDelayWSGIServer((LOOPBACK, args.port), app, log=None)
    server.start()
    port = int(server.server_port)
    if args.port_file:
        write_atomically(args.port_file, f"{port}\n")
    print(f"moto S3 listening on http://{LOOPBACK}:{port}", file=sys.stderr, flush=True)

    serve_until_signalled(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
