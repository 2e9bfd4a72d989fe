"""The strict S3 server of the tests (devstack/versitygw.py): it starts from the cached
build, keeps connections alive, checks signatures, keeps no secret in its argv, and
`close()` removes its data."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import started
from upload_stream_cli.devstack.s3 import FAKE_AWS_ENV, s3_client
from upload_stream_cli.devstack.versitygw import VersityGwServer


@pytest.fixture
def server() -> Iterator[VersityGwServer]:
    with started(VersityGwServer(), "versitygw") as server:
        yield server


def test_it_serves_s3_with_the_fake_credentials(server: VersityGwServer) -> None:
    s3 = s3_client(server.endpoint, fake_credentials=True)
    try:
        s3.create_bucket(Bucket="probe")
        s3.put_object(Bucket="probe", Key="a", Body=b"%PDF")
        assert s3.get_object(Bucket="probe", Key="a")["Body"].read() == b"%PDF"
    finally:
        s3.close()


def test_it_keeps_connections_alive(server: VersityGwServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        sockets = []
        for _ in range(3):
            conn.request("GET", "/")  # unsigned: 403, on the same connection
            response = conn.getresponse()
            response.read()
            assert response.status == 403
            assert conn.sock is not None
            sockets.append(conn.sock.getsockname())
        assert len(set(sockets)) == 1, sockets
    finally:
        conn.close()


def test_no_secret_in_its_command_line(server: VersityGwServer) -> None:
    assert server.pid is not None
    argv = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
    assert FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"].encode() not in argv
    assert b"--keep-alive" in argv


def test_close_stops_it_and_removes_its_data(server: VersityGwServer) -> None:
    log = server.log_path
    assert log is not None and log.is_file()
    server.close()
    assert not server.running
    assert not log.parent.exists()
