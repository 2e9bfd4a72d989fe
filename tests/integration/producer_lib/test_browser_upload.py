"""The upload page in a real headless Chromium (Debian's `chromium` + `chromium-driver`,
driven by Selenium): files go from the browser straight to the staging bucket with presigned
POSTs, through the real consumer, and the page shows each file's outcome.

Screenshots land in `UPLOAD_STREAM_SCREENSHOT_DIR` (default
`/tmp/upload-stream-browser-screenshots`).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from tests.conftest import unavailable
from tests.integration.producer_support import Pipeline, env_patch, pipeline, setup_django
from upload_stream_cli.demo_samples import pdf
from upload_stream_cli.devstack.s3 import FAKE_AWS_ENV, s3_client, staging_bucket_rules

setup_django()

from django.core.wsgi import get_wsgi_application  # noqa: E402

from tests.django_project import urls  # noqa: E402

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(
    os.environ.get("UPLOAD_STREAM_SCREENSHOT_DIR", "/tmp/upload-stream-browser-screenshots")
)
FINAL = ("succeeded", "partial", "failed", "error")
USER = "4242"


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    if not (shutil.which(CHROMEDRIVER) and shutil.which(CHROMIUM)):
        unavailable("chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    options.add_argument("--window-size=1000,700")
    made = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    made.set_script_timeout(30)
    yield made
    made.quit()


@pytest.fixture
def site(
    request: pytest.FixtureRequest, stack: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Pipeline]]:
    """The test Django project on a real port, its uploads wired to the session pipeline."""
    pipe = pipeline(request, stack)
    env_patch(monkeypatch, {**pipe.mode_env(), **FAKE_AWS_ENV})
    s3 = s3_client(pipe.s3_endpoint, fake_credentials=pipe.fake_credentials)
    staging_bucket_rules(s3, pipe.staging_bucket, prefix="staged/")  # as the dev stack does
    server = make_server(
        "127.0.0.1", 0, get_wsgi_application(), server_class=_Server, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", pipe
    finally:
        server.shutdown()
        server.server_close()
        urls.UPLOADS.close()
        urls.UPLOADS._tickets = urls.UPLOADS._publisher = urls.UPLOADS._board = None
        s3.close()


def _jpeg(driver: Any) -> bytes:
    """A real JPEG, from Chromium's own encoder."""
    data_url = driver.execute_script(
        """const c = document.createElement('canvas'); c.width = 320; c.height = 200;
        const g = c.getContext('2d'); g.fillStyle = '#d9c7a5'; g.fillRect(0, 0, 320, 200);
        g.fillStyle = '#5a3e2b'; g.beginPath(); g.arc(160, 90, 50, 0, 6.3); g.fill();
        return c.toDataURL('image/jpeg', 0.9);"""
    )
    return base64.b64decode(data_url.split(",", 1)[1])


def _open_page(driver: Any, base: str) -> None:
    driver.get(f"{base}/uploads/")
    driver.add_cookie({"name": "test_user", "value": USER, "path": "/"})
    driver.get(f"{base}/uploads/")


def _upload(driver: Any, files: dict[str, Path], overrides: dict[str, Any] | None = None) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("window.uploadOverrides = arguments[0];", overrides or {})
    for file_type, path in files.items():
        driver.find_element(By.ID, f"f-{file_type}").send_keys(str(path))
    driver.find_element(By.ID, "send").click()
    overall = driver.find_element(By.ID, "overall")
    WebDriverWait(driver, 60).until(lambda _d: overall.get_attribute("data-status") in FINAL)
    return str(overall.get_attribute("data-status"))


def _outcome(driver: Any, file_type: str) -> tuple[str, str]:
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.ID, f"o-{file_type}")
    return str(element.get_attribute("data-status")), str(element.text)


def _dest_keys(pipe: Pipeline) -> list[str]:
    s3 = s3_client(pipe.s3_endpoint, fake_credentials=pipe.fake_credentials)
    try:
        listing = s3.list_objects_v2(Bucket=pipe.dest_bucket, Prefix="kyc_documents/")
        return sorted(o["Key"] for o in listing.get("Contents", []))
    finally:
        s3.close()


def test_browser_uploads_a_pdf_and_a_jpeg_and_sees_them_succeed(
    driver: Any, site: tuple[str, Pipeline], tmp_path: Path
) -> None:
    base, pipe = site
    _open_page(driver, base)
    passport = tmp_path / "passport.pdf"
    passport.write_bytes(pdf("Passport", ["Surname: TESTER", "Given names: BROWSER"]))
    selfie = tmp_path / "selfie.jpg"
    selfie.write_bytes(_jpeg(driver))
    assert selfie.read_bytes()[:3] == b"\xff\xd8\xff"

    status = _upload(driver, {"passport": passport, "selfie": selfie})

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "1-succeeded.png"))
    assert status == "succeeded", driver.find_element("id", "overall").text
    assert _outcome(driver, "passport") == ("uploaded", "uploaded")
    assert _outcome(driver, "selfie") == ("uploaded", "uploaded")
    keys = _dest_keys(pipe)
    for path, ext in ((passport, ".pdf"), (selfie, ".jpg")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert any(k.endswith(f"/{digest}{ext}") and f"/user_{USER}/" in k for k in keys)


def test_browser_sees_size_and_checksum_lies_fail_with_the_contract_codes(
    driver: Any, site: tuple[str, Pipeline], tmp_path: Path
) -> None:
    base, pipe = site
    _open_page(driver, base)
    passport = tmp_path / "passport.pdf"
    passport.write_bytes(pdf("Passport", ["a file that lies about its size"]))
    bill = tmp_path / "bill.pdf"
    bill.write_bytes(pdf("Utility bill", ["a file that lies about its digest"]))
    before = _dest_keys(pipe)

    status = _upload(
        driver,
        {"passport": passport, "utility_bill": bill},
        overrides={
            "passport": {"size": passport.stat().st_size + 7},
            "utility_bill": {"sha256": hashlib.sha256(b"not these bytes").hexdigest()},
        },
    )

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "2-size-and-checksum-failures.png"))
    assert status == "failed", driver.find_element("id", "overall").text
    assert _outcome(driver, "passport") == ("failed", "size_mismatch")
    assert _outcome(driver, "utility_bill") == ("failed", "checksum_mismatch")
    assert _dest_keys(pipe) == before
