"""The seed guide's usage examples (basic, ID card, profile, bulk), run as written against
the real stack in both AWSService modes: `direct` (the upload engine in this process) and
`kafka` (staged, published, uploaded by the real consumer, result awaited).

Each asserts the exact URLs (the contract's content-addressed keys) and that the objects
behind them hold the bytes that were uploaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import gevent
import pytest

from tests.integration.producer_support import (
    Pipeline,
    aws_service_env,
    expected_url,
    pipeline,
    read_s3_url,
    setup_django,
)
from tests.unit.scripted_s3 import Received, Reply, ScriptedS3, ok

setup_django()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402

from producer_lib import AWSService  # noqa: E402


@pytest.fixture(params=["direct", "kafka"])
def pipe(
    request: pytest.FixtureRequest, stack: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Pipeline]:
    made = pipeline(request, stack)
    yield from aws_service_env(monkeypatch, made, request.param)


def _file(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def _check(
    pipe: Pipeline, s3: Any, urls: dict[str, str], category: str, user: Any, sent: dict[str, Any]
) -> None:
    expected = {
        file_type: expected_url(pipe, category, user, file_type, content, name)
        for file_type, (name, content) in sent.items()
    }
    assert urls == expected
    for file_type, (_name, content) in sent.items():
        assert read_s3_url(s3, urls[file_type]) == content


def test_basic_document_upload(pipe: Pipeline, s3: Any) -> None:
    sent = {
        "passport": ("passport.pdf", b"%PDF passport"),
        "utility_bill": ("bill.png", b"\x89PNG bill"),
        "contract": ("contract.pdf", b"%PDF contract"),
    }
    request = SimpleNamespace(
        FILES={k: _file(name, body) for k, (name, body) in sent.items()},
        user=SimpleNamespace(pk=123),
    )

    # --- the seed's example, verbatim ---
    aws_service = AWSService()
    files = {
        "passport": request.FILES.get("passport"),
        "utility_bill": request.FILES.get("utility_bill"),
        "bank_statement": request.FILES.get("bank_statement"),
        "contract": request.FILES.get("contract"),
    }
    files = {k: v for k, v in files.items() if v is not None}
    urls = aws_service.upload_files_concurrently(
        user_id=request.user.pk, files=files, file_category="kyc_documents", max_workers=4
    )
    # ---

    _check(pipe, s3, urls, "kyc_documents", 123, sent)


def test_id_card_verification_legacy_method(pipe: Pipeline, s3: Any) -> None:
    sent = {
        "front": ("front.jpg", b"\xff\xd8 front"),
        "back": ("back.jpg", b"\xff\xd8 back"),
        "selfie": ("selfie.jpg", b"\xff\xd8 selfie"),
        "selfie_video": ("selfie.mp4", b"\x00\x00\x00\x18ftypmp42"),
    }
    user = SimpleNamespace(pk=456)
    front_image, back_image, selfie_image, selfie_video = (
        _file(name, body) for name, body in sent.values()
    )
    aws_service = AWSService()

    urls = aws_service.upload_to_s3(
        user_id=user.pk,
        image_front=front_image,
        image_back=back_image,
        selfie=selfie_image,
        selfie_video=selfie_video,  # Optional
    )

    _check(pipe, s3, urls, "id_cards", 456, sent)
    without_video = aws_service.upload_to_s3(
        user_id=user.pk,
        image_front=_file("front.jpg", b"\xff\xd8 front"),
        image_back=_file("back.jpg", b"\xff\xd8 back"),
        selfie=_file("selfie.jpg", b"\xff\xd8 selfie"),
    )
    assert without_video == {k: v for k, v in urls.items() if k != "selfie_video"}


def test_profile_documents(pipe: Pipeline, s3: Any) -> None:
    sent = {
        "profile_picture": ("me.png", b"\x89PNG me"),
        "resume": ("cv.pdf", b"%PDF cv"),
        "cover_letter": ("letter.docx", b"PK letter"),
        "portfolio": ("portfolio.zip", b"PK portfolio"),
    }
    profile_pic, resume_file, cover_letter_file, portfolio_file = (
        _file(name, body) for name, body in sent.values()
    )
    user = SimpleNamespace(pk="u_789")
    aws_service = AWSService()

    profile_files = {
        "profile_picture": profile_pic,
        "resume": resume_file,
        "cover_letter": cover_letter_file,
        "portfolio": portfolio_file,
    }
    urls = aws_service.upload_files_concurrently(
        user_id=user.pk, files=profile_files, file_category="profile", max_workers=3
    )

    _check(pipe, s3, urls, "profile", "u_789", sent)


def test_bulk_upload(pipe: Pipeline, s3: Any) -> None:
    sent = {f"document_{i}": (f"doc{i}.txt", f"bulk document {i}".encode()) for i in range(12)}
    document_list = [_file(name, body) for name, body in sent.values()]
    user = SimpleNamespace(pk=1001)
    aws_service = AWSService()

    bulk_files = {f"document_{i}": file_obj for i, file_obj in enumerate(document_list)}
    urls = aws_service.upload_files_concurrently(
        user_id=user.pk,
        files=bulk_files,
        file_category="bulk_documents",
        max_workers=10,  # Higher concurrency for bulk operations
    )

    _check(pipe, s3, urls, "bulk_documents", 1001, sent)


def test_the_mode_variable_picks_the_transport(pipe: Pipeline) -> None:
    from producer_lib.direct import DirectTransport
    from producer_lib.kafka_transport import KafkaTransport
    from producer_lib.transport import transport_from_env

    wanted = KafkaTransport if pipe.env_mode == "kafka" else DirectTransport
    assert type(transport_from_env()) is wanted


# --- the guide's Testing example, and concurrency where gevent has not patched sockets ---

_REPO = Path(__file__).resolve().parents[3]


def _unpatched_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "UPLOAD_STREAM_AWS_SERVICE_MODE"}
    return {**env, **extra}


def test_the_guides_testing_example_passes_under_djangos_test_runner() -> None:
    # tests/django_project/seed_testing_example.py holds it as written (import path ours);
    # `manage.py test` runs in a process that gevent has not patched, and so does this.
    done = subprocess.run(
        [sys.executable, "-m", "django", "test", "tests.django_project.seed_testing_example"],
        cwd=_REPO,
        env=_unpatched_env(
            DJANGO_SETTINGS_MODULE="tests.django_project.runner_settings",
            UPLOAD_STREAM_DEFAULT_BUCKET="seed-bucket",
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Ran 2 tests" in done.stderr
    assert "\nOK\n" in done.stderr


_UNPATCHED_UPLOAD = """
import io, json, sys
from gevent import monkey
from producer_lib import AWSService
from upload_engine.settings import EngineSettings

n, k = int(sys.argv[1]), int(sys.argv[2])
service = AWSService("unpatched", settings=EngineSettings(s3_addressing_style="path"))
files = {f"f{i}": io.BytesIO(b"unpatched %d" % i) for i in range(n)}
urls = service.upload_files_concurrently(1, files, "unpatched", max_workers=k)
print(json.dumps({"patched": monkey.is_module_patched("socket"), "uploaded": len(urls)}))
"""


class _SlowS3:
    """Answers each request after 0.2 s; `peak` is the most requests in flight at once."""

    def __init__(self) -> None:
        self.in_flight = self.peak = 0

    def __call__(self, request: Received) -> Reply:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            gevent.sleep(0.2)
        finally:
            self.in_flight -= 1
        return ok(request)


def test_an_unpatched_process_uploads_max_workers_files_at_once() -> None:
    slow = _SlowS3()
    server = ScriptedS3(slow)  # served by this (patched) process while the child runs
    try:
        done = subprocess.run(
            [sys.executable, "-c", _UNPATCHED_UPLOAD, "24", "8"],
            cwd=_REPO,
            env=_unpatched_env(AWS_ENDPOINT_URL=server.endpoint),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == {"patched": False, "uploaded": 24}
    # 24 files at 8 workers: 8 requests at a time, so 3 rounds of 0.2 s, not 24.
    assert slow.peak == 8
