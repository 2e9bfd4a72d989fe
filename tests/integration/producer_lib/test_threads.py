"""UploadClient in a process WITHOUT gevent: eight OS threads share one client (one
producer, one reply consumer). The test process itself is patched, so this runs in a
subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.integration.producer_support import REPO, Pipeline, pipeline, read_s3_url

SCRIPT = """
import json, sys, threading
from gevent import monkey
from producer_lib.client import UploadClient
from producer_lib.settings import ProducerSettings

client = UploadClient(ProducerSettings())
out = {}
def call(i):
    result = client.upload(f"thread{i}", {"doc": f"thread {i}".encode()}, "threads", timeout=60)
    out[i] = [result.status.value, result.urls["doc"]]
threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
client.close()
print(json.dumps({
    "patched": monkey.is_module_patched("socket"),
    "os_threads": type(threads[0]).__module__,
    "results": out,
}))
"""


@pytest.fixture
def pipe(request: pytest.FixtureRequest, stack: Any) -> Pipeline:
    return pipeline(request, stack)


def test_os_threads_share_one_client(pipe: Pipeline, s3: Any) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env={**pipe.env, **pipe.mode_env()},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["patched"] is False
    assert report["os_threads"] == "threading"
    assert sorted(report["results"], key=int) == [str(i) for i in range(8)]
    for i, (status, url) in report["results"].items():
        assert status == "succeeded"
        assert read_s3_url(s3, url) == f"thread {i}".encode()
