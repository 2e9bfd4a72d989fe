"""The engine's client parses S3's timestamps with the standard library
(upload_engine/s3_client.py `parse_timestamp`): the same instants botocore's parser gives."""

from __future__ import annotations

from typing import Any

import botocore.utils
import pytest
from moto import mock_aws

from upload_engine.s3_client import open_s3_client, parse_timestamp
from upload_engine.settings import EngineSettings


@pytest.mark.parametrize(
    "value",
    [
        "Wed, 02 Dec 2026 17:24:25 GMT",  # a header (Last-Modified)
        "2026-12-02T17:24:25.000Z",  # XML (CopyObjectResult, ListObjectsV2)
        "2026-12-02T17:24:25Z",
        "2026-12-02T19:24:25.123456+02:00",
        "1796318665",  # epoch seconds: botocore's own parser
        "1796318665.5",
        "2026-12-02T17:24:25",  # no zone: botocore's (naive, as its own)
    ],
)
def test_the_same_datetime_as_botocores(value: str) -> None:
    ours, theirs = parse_timestamp(value), botocore.utils.parse_timestamp(value)
    assert ours == theirs
    assert ours.utcoffset() == theirs.utcoffset()


def test_what_botocore_cannot_parse_raises_as_botocore_does() -> None:
    with pytest.raises(ValueError, match="Invalid timestamp"):
        parse_timestamp("yesterday, around noon")


def test_the_engines_client_answers_with_its_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def spy(value: str) -> Any:
        seen.append(value)
        return parse_timestamp(value)

    monkeypatch.setattr("upload_engine.s3_client.parse_timestamp", spy)
    with mock_aws():
        client, _ = open_s3_client(EngineSettings(staging_allowlist=[]), max_pool_connections=10)
        client.create_bucket(Bucket="stamps")
        client.put_object(Bucket="stamps", Key="k", Body=b"x")
        modified = client.head_object(Bucket="stamps", Key="k")["LastModified"]
        client.close()
    assert seen and modified == parse_timestamp(seen[-1])
