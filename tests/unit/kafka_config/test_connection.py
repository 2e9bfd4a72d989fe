"""`KafkaConnection`: every KAFKA_* variable passes through to librdkafka, secrets masked,
bad settings refused at construction naming the variable."""

from __future__ import annotations

import pytest

from kafka_config.connection import (
    KafkaConnection,
    KafkaSettingsError,
    is_secret,
    librdkafka_key,
    variable_name,
)


@pytest.fixture(autouse=True)
def _no_kafka_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("KAFKA_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("variable", "key"),
    [
        ("KAFKA_SSL_CERTIFICATE_LOCATION", "ssl.certificate.location"),
        ("KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "ssl.endpoint.identification.algorithm"),
        ("KAFKA_LOG__LEVEL", "log_level"),
        ("KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET", "sasl.oauthbearer.client.secret"),
        ("KAFKA_A___B", "a-b"),
    ],
)
def test_variable_names_map_like_confluents_images(variable: str, key: str) -> None:
    assert librdkafka_key(variable) == key
    assert variable_name(key) == variable


def test_every_kafka_variable_reaches_librdkafka(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_CLIENT_ID", "kyc-7")
    monkeypatch.setenv("KAFKA_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "none")
    monkeypatch.setenv("KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET", "oidc-secret-123")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "scram-secret-456")
    connection = KafkaConnection()
    config = connection.librdkafka()
    assert config["client.id"] == "kyc-7"
    assert config["ssl.endpoint.identification.algorithm"] == "none"
    assert config["sasl.oauthbearer.client.secret"] == "oidc-secret-123"
    assert config["sasl.password"] == "scram-secret-456"
    shown = repr(connection) + str(connection) + connection.model_dump_json()
    assert "oidc-secret-123" not in shown
    assert "scram-secret-456" not in shown
    assert "'client.id': 'kyc-7'" in repr(connection)


@pytest.mark.parametrize(
    "key",
    [
        "sasl.password",
        "ssl.key.password",
        "ssl.keystore.password",
        "sasl.oauthbearer.client.secret",
        "ssl.key.pem",
        "ssl_key",
        "sasl.oauthbearer.config",
        "sasl.oauthbearer.assertion.private.key.passphrase",
    ],
)
def test_secret_keys_are_recognised(key: str) -> None:
    assert is_secret(key)


def test_plain_keys_are_shown() -> None:
    assert not is_secret("ssl.certificate.location")
    assert not is_secret("client.id")


def test_lower_case_mechanism_is_accepted_and_passed_upper_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "sasl_plaintext")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "scram-sha-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "u")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "p")
    config = KafkaConnection().librdkafka()
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config["security.protocol"] == "sasl_plaintext"  # librdkafka ignores its case


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_TLS"},
            "KAFKA_SECURITY_PROTOCOL='SASL_TLS' is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, "
            "SASL_SSL",
        ),
        (
            {"KAFKA_SASL_MECHANISM": "SCRAM"},
            "KAFKA_SASL_MECHANISM='SCRAM' is not one of GSSAPI, PLAIN, SCRAM-SHA-256, "
            "SCRAM-SHA-512, OAUTHBEARER",
        ),
        (
            {"KAFKA_SSL_CA_LOCATION": "/nonexistent/ca.pem"},
            "KAFKA_SSL_CA_LOCATION: no such file: /nonexistent/ca.pem",
        ),
        (
            {"KAFKA_SSL_CERTIFICATE_LOCATION": "/nonexistent/c.pem"},
            "KAFKA_SSL_CERTIFICATE_LOCATION: no such file: /nonexistent/c.pem",
        ),
        ({"KAFKA_HOME": "/opt/kafka"}, 'KAFKA_HOME: No such configuration property: "home"'),
        (
            {"KAFKA_MESSAGE_MAX_BYTES": "lots"},
            "KAFKA_MESSAGE_MAX_BYTES: Invalid value for configuration property",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "GSSAPI"},
            "KAFKA_SASL_MECHANISM: No provider for SASL mechanism GSSAPI",
        ),
    ],
    ids=["protocol", "mechanism", "ca", "certificate", "unknown", "value", "gssapi"],
)
def test_bad_settings_fail_at_construction_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], message: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(KafkaSettingsError) as caught:
        KafkaConnection()
    assert str(caught.value).startswith(message)


def test_a_ca_file_that_is_no_certificate_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    from pathlib import Path

    bogus = Path(str(tmp_path)) / "ca.pem"
    bogus.write_text("not a certificate\n")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("KAFKA_SSL_CA_LOCATION", str(bogus))
    with pytest.raises(KafkaSettingsError, match=r"^KAFKA_SSL_CA_LOCATION: ssl.ca.location failed"):
        KafkaConnection()
