"""`python -m upload_stream_cli.demo --web` (`make demo-web`) end to end: the session's Kafka
(its env), an S3 server and a consumer of the demo's own. The page is loaded over HTTP and
one document goes ticket -> presigned POST -> submit -> status until `succeeded`; then
SIGINT stops the demo, which must exit 0 and leave none of its children running."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from tests.integration.consumer_helpers import REPO
from upload_stream_cli.demo_samples import pdf
from upload_stream_cli.devstack.stack import Stack

URL = re.compile(r"upload page: (http://127\.0\.0\.1:\d+/uploads/)")


def _wait_for_url(proc: subprocess.Popen[bytes], out: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = out.read_text(errors="replace")
        found = URL.search(text)
        if found:
            return found.group(1)
        assert proc.poll() is None, f"the demo exited {proc.returncode}:\n{text}"
        time.sleep(0.2)
    raise AssertionError(f"no upload page within {timeout} s:\n{out.read_text()}")


def _descendants(pid: int) -> dict[int, str]:
    """Every live process below `pid`, with its command line."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in found:
                cmdline = Path(f"/proc/{child}/cmdline")
                found[child] = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _upload_one(base: str, data: bytes) -> dict[str, Any]:
    session = requests.Session()
    page = session.get(base, timeout=10)
    assert page.status_code == 200 and "Upload your documents" in page.text
    headers = {"X-CSRFToken": session.cookies["csrftoken"], "Referer": base}
    declared = {
        "file_type": "passport",
        "filename": "passport.pdf",
        "content_type": "application/pdf",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    made = session.post(f"{base}tickets/", json={"files": [declared]}, headers=headers, timeout=10)
    assert made.status_code == 201, made.text
    batch = made.json()
    ticket = batch["tickets"]["passport"]
    assert ticket["method"] == "POST"
    sent = requests.post(
        ticket["url"],
        data=ticket["fields"],
        files={"file": ("passport.pdf", data, "application/pdf")},
        timeout=10,
    )
    assert sent.status_code in (200, 201, 204), sent.text
    submitted = session.post(
        f"{base}submit/", json={"token": batch["token"]}, headers=headers, timeout=10
    )
    assert submitted.status_code == 202, submitted.text
    request_id = submitted.json()["request_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status: dict[str, Any] = session.get(f"{base}status/{request_id}/", timeout=10).json()
        if status["status"] != "pending":
            return status
        time.sleep(0.3)
    raise AssertionError(f"no result for {request_id} within 60 s")


def test_demo_web_serves_the_page_uploads_and_stops_everything_on_sigint(
    stack: Stack, tmp_path: Path
) -> None:
    out = tmp_path / "demo.out"
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers}
    env.pop("AWS_ENDPOINT_URL", None)  # the demo starts an S3 server of its own
    env["UPLOAD_STREAM_S3_SERVER"] = "moto"
    with out.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "upload_stream_cli.demo", "--web", "--port", "0"],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    children: dict[int, str] = {}
    try:
        base = _wait_for_url(proc, out, 90)
        children = _descendants(proc.pid)
        assert any(" consume" in cmd for cmd in children.values()), children
        assert any("s3_server" in cmd for cmd in children.values()), children

        status = _upload_one(base, pdf("Passport", ["Surname: TESTER", "Given names: WEB"]))

        assert status["status"] == "succeeded", status
        assert status["files"]["passport"]["status"] == "uploaded"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    text = out.read_text()
    assert code == 0, text
    assert "stopping the upload page" in text and "stopping the consumer" in text
    assert "stopped" in text.splitlines()[-1]
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert {pid: cmd for pid, cmd in children.items() if _alive(pid)} == {}
