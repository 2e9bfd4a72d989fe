"""Console-script entry point for `upload-stream`.

gevent must patch the standard library before anything imports socket, ssl or
botocore (importing botocore first ends in a RecursionError when a client is
created), so patching is the first statement here and nothing else is imported
above it.
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from upload_stream_cli.main import run  # noqa: E402


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
