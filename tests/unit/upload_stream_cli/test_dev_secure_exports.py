"""`upload-stream dev --secure` prints the shared TLS exports, then one line per role."""

from __future__ import annotations

from typing import Any, cast

import pytest

from upload_stream_cli.commands.dev import _print_roles
from upload_stream_cli.devstack.secure_kafka import SecureKafkaBroker


class _Broker:
    def client_env(self, user: str) -> dict[str, str]:
        return {
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": f"pw of {user}",
            "KAFKA_SSL_CA_LOCATION": "/tmp/x/ca.pem",
        }


def test_exports_per_role(capsys: pytest.CaptureFixture[str]) -> None:
    broker: Any = _Broker()
    _print_roles(cast(SecureKafkaBroker, broker))
    assert capsys.readouterr().out.splitlines() == [
        "export KAFKA_SECURITY_PROTOCOL=SASL_SSL",
        "export KAFKA_SASL_MECHANISM=SCRAM-SHA-512",
        "export KAFKA_SSL_CA_LOCATION=/tmp/x/ca.pem",
        "# as consumer (only its ACLs): export KAFKA_SASL_USERNAME=consumer "
        "KAFKA_SASL_PASSWORD='pw of consumer'",
        "# as producer (only its ACLs): export KAFKA_SASL_USERNAME=producer "
        "KAFKA_SASL_PASSWORD='pw of producer'",
        "# as ops (only its ACLs): export KAFKA_SASL_USERNAME=ops KAFKA_SASL_PASSWORD='pw of ops'",
    ]
