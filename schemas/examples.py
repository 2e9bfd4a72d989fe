"""Example events, valid under the contract: embedded in the exported JSON Schema files
and used by tests and docs. Each call returns a fresh JSON-ready dict to modify."""

from __future__ import annotations

from typing import Any

_SHA_PASSPORT = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
_SHA_SELFIE = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"


def example_request() -> dict[str, Any]:
    """A two-file KYC request as a producer would publish it."""
    return {
        "schema_version": 1,
        "request_id": "req-2026-01-31-0001",
        "user_id": 123,
        "file_category": "kyc_documents",
        "files": {
            "passport": {
                "uri": "s3://staging-bucket/incoming/123/passport.pdf",
                "size": 48213,
                "sha256": _SHA_PASSPORT,
                "content_type": "application/pdf",
                "filename": "Passport.PDF",
            },
            "selfie": {
                "uri": "file:///var/spool/uploads/123/selfie.jpg",
                "size": 20480,
                "sha256": _SHA_SELFIE,
                "content_type": "image/jpeg",
            },
        },
        "bucket": None,
        "max_workers": 2,
        "reply_topic": None,
        "created_at": "2026-01-31T12:00:00Z",
        "attempt": 1,
        "replay_of": None,
        "metadata": {"source": "mobile-app"},
    }


def example_result() -> dict[str, Any]:
    """The partial result of `example_request()`: the passport uploaded, the selfie not."""
    key = f"kyc_documents/user_123/passport/{_SHA_PASSPORT}.pdf"
    return {
        "schema_version": 1,
        "request_id": "req-2026-01-31-0001",
        "user_id": "123",
        "file_category": "kyc_documents",
        "attempt": 1,
        "replay_of": None,
        "metadata": {"source": "mobile-app"},
        "bucket": "kyc-documents",
        "status": "partial",
        "urls": {"passport": f"s3://kyc-documents/{key}"},
        "objects": {
            "passport": {
                "bucket": "kyc-documents",
                "key": key,
                "size": 48213,
                "sha256": _SHA_PASSPORT,
                "content_type": "application/pdf",
                "etag": '"5d41402abc4b2a76b9719d911017c592"',
                "version_id": None,
                "verified_by": "put_checksum",
                "detected_content_type": "application/pdf",
                "scan": {
                    "scanner": "ClamAV 1.4.6",
                    "verdict": "clean",
                    "database_version": "27845/Tue Dec  1 08:27:15 2026",
                },
            }
        },
        "failures": {
            "selfie": {
                "code": "checksum_mismatch",
                "message": "sha256 of the bytes read differs from the request",
                "retryable": False,
            }
        },
        "error": None,
        "started_at": "2026-01-31T12:00:00.120Z",
        "finished_at": "2026-01-31T12:00:00.480Z",
        "duration_ms": 360,
        "failed_sources": {
            "selfie": {
                "uri": "file:///var/spool/uploads/123/selfie.jpg",
                "size": 20480,
                "sha256": _SHA_SELFIE,
                "content_type": "image/jpeg",
                "filename": None,
            }
        },
    }
