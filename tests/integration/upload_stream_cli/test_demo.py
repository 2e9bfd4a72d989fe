"""`python -m upload_stream_cli.demo` end to end, against the session's stack (its env, so the
demo starts nothing of its own): a partial result, one checksum_mismatch, one DLQ record."""

import os
import re
import subprocess
import sys

from tests.integration.consumer_helpers import REPO
from upload_stream_cli.devstack.stack import Stack

GOOD = ("passport", "id_card_front", "id_card_back", "selfie", "utility_bill")


def test_demo_prints_partial_result_and_dlq_reason(stack: Stack) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "upload_stream_cli.demo", "--timeout", "40"],
        env={**os.environ, **stack.env()},
        cwd=REPO,
        capture_output=True,
        check=False,
        text=True,
        timeout=100,
    )
    out = proc.stdout
    assert proc.returncode == 0, f"stdout:\n{out}\nstderr:\n{proc.stderr}"
    assert f"using Kafka at {stack.bootstrap_servers}" in out
    assert "consumer ready" in out
    assert re.search(r"result req-\S+: status=partial ", out), out
    uploaded = re.findall(r"^\s+uploaded (\w+)\s+(s3://\S+)\s+\(([\d,]+) bytes\)$", out, re.M)
    assert sorted(name for name, _, _ in uploaded) == sorted(GOOD), out
    for name, url, _size in uploaded:
        assert url.startswith(
            f"s3://upload-stream-documents/kyc_documents/user_demo-user-42/{name}/"
        )
    failed = re.findall(r"^\s+FAILED\s+(\w+)\s+(\w+): .*\(retryable: (\w+)\)$", out, re.M)
    assert failed == [("bank_statement", "checksum_mismatch", "no")], out
    assert "dlq_reason_code=invalid_json" in out
    assert "stopping the consumer" in out and "stopped" in out
    assert "stopping Kafka" not in out  # the session's stack is not the demo's to stop
