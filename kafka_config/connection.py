"""How to reach the brokers (`KAFKA_*`): shared by the consumer, producer library and ops.

Every `KAFKA_*` variable is a librdkafka setting, named as kcat and Confluent's images
name them: drop `KAFKA_`, lower-case, `_` becomes `.`, `__` becomes `_` and `___`
becomes `-` (`KAFKA_SSL_CERTIFICATE_LOCATION` -> `ssl.certificate.location`,
`KAFKA_LOG__LEVEL` -> `log_level`). The six declared fields are the common ones; the
rest pass through as they are. Settings are checked when the object is made (names,
values, files), so a bad one fails at start-up with the variable's name
(`KafkaSettingsError`), not at the first connection.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from confluent_kafka import KafkaException, Producer
from pydantic import Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "KAFKA_"
PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("GSSAPI", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
MASK = "**********"

# Keys whose values are credentials: masked wherever settings are shown.
_SECRET = re.compile(r"password|secret|passphrase|jaas|key\.pem|ssl_key$|oauthbearer\.config")
# How librdkafka names the setting in its errors.
_PROPERTY = re.compile(
    r'[Pp]roperty:? "?([a-z][a-z0-9._-]*)"?|^([a-z][a-z0-9_-]*\.[a-z0-9._-]+) failed'
)
_MECHANISM = re.compile(r"SASL mechanism")


class KafkaSettingsError(Exception):
    """A `KAFKA_*` setting librdkafka cannot use: the CLI exits 2 with this one line."""


def librdkafka_key(variable: str) -> str:
    """`KAFKA_SSL_KEY_LOCATION` -> `ssl.key.location` (Confluent's image convention)."""
    name = variable.removeprefix(PREFIX).lower()
    return (
        name.replace("___", "\0").replace("__", "\1").replace("_", ".").translate({0: "-", 1: "_"})
    )


def variable_name(key: str) -> str:
    """The inverse: `ssl.key.location` -> `KAFKA_SSL_KEY_LOCATION`."""
    name = key.replace("_", "\1").replace("-", "\0").replace(".", "_")
    return PREFIX + name.replace("\1", "__").replace("\0", "___").upper()


def is_secret(key: str) -> bool:
    return bool(_SECRET.search(key))


class KafkaConnection(BaseSettings):
    """How to reach the brokers; shared by the consumer, the producer library and ops tools."""

    model_config = SettingsConfigDict(env_prefix=PREFIX, frozen=True, extra="ignore")

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Brokers, comma-separated."
    )
    security_protocol: str | None = Field(
        default=None, description="`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`."
    )
    sasl_mechanism: str | None = Field(default=None, description="e.g. `SCRAM-SHA-512`, `PLAIN`.")
    sasl_username: str | None = Field(default=None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(
        default=None, description="Secret: masked whenever settings are printed or logged."
    )
    ssl_ca_location: str | None = Field(
        default=None, description="CA bundle file for TLS to the brokers."
    )

    # Every other KAFKA_* variable, by librdkafka key; secrets as SecretStr.
    _passthrough: dict[str, str | SecretStr] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _validate(self) -> Self:
        protocol, mechanism = self.security_protocol, self.sasl_mechanism
        if protocol is not None and protocol.upper() not in PROTOCOLS:
            raise KafkaSettingsError(
                f"KAFKA_SECURITY_PROTOCOL={protocol!r} is not one of {', '.join(PROTOCOLS)}"
            )
        if mechanism is not None and mechanism.upper() not in MECHANISMS:
            raise KafkaSettingsError(
                f"KAFKA_SASL_MECHANISM={mechanism!r} is not one of {', '.join(MECHANISMS)}"
            )
        # Protocols are case-insensitive in librdkafka, mechanisms are not (they are
        # upper case by definition): accept either, pass them upper case.
        if mechanism is not None:
            object.__setattr__(self, "sasl_mechanism", mechanism.upper())
        declared = {variable_name(name.replace("_", ".")) for name in type(self).model_fields}
        self._passthrough = {
            key: SecretStr(value) if is_secret(key) else value
            for variable, value in sorted(os.environ.items())
            if variable.startswith(PREFIX) and variable not in declared
            for key in (librdkafka_key(variable),)
        }
        _check(self.librdkafka())
        return self

    @property
    def passthrough(self) -> Mapping[str, str]:
        """The pass-through settings as shown (secrets masked)."""
        return {k: MASK if isinstance(v, SecretStr) else v for k, v in self._passthrough.items()}

    def librdkafka(self) -> dict[str, str]:
        """librdkafka's dotted keys; the only place secrets are unmasked."""
        config = {"bootstrap.servers": self.bootstrap_servers}
        optional = {
            "security.protocol": self.security_protocol,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password.get_secret_value() if self.sasl_password else None,
            "ssl.ca.location": self.ssl_ca_location,
        }
        config.update({k: v for k, v in optional.items() if v})
        for key, value in self._passthrough.items():
            config[key] = value.get_secret_value() if isinstance(value, SecretStr) else value
        return config

    def __repr_args__(self) -> Any:
        yield from super().__repr_args__()
        if self._passthrough:
            yield "passthrough", dict(self.passthrough)


def _check(config: Mapping[str, str]) -> None:
    """Fail now, naming the variable, for what librdkafka would fail on later: a file that
    is not there, an unknown key, a value it rejects (checked by making, and closing, a
    producer handle that connects to nothing)."""
    for key, value in config.items():
        if key.endswith(".location") and value != "probe" and not Path(value).exists():
            raise KafkaSettingsError(f"{variable_name(key)}: no such file: {value}")
    try:
        probe = Producer({**config, "log_level": 0, "bootstrap.servers": ""})
    except (KafkaException, ValueError, TypeError) as exc:
        raise KafkaSettingsError(_explain(exc)) from None
    del probe


def _explain(exc: Exception) -> str:
    error = exc.args[0] if exc.args else exc
    text = error.str() if hasattr(error, "str") else str(error)
    text = text.removeprefix("Failed to create producer: ")
    found = _PROPERTY.search(text)
    if found is not None:
        return f"{variable_name(found.group(1) or found.group(2))}: {text}"
    if _MECHANISM.search(text):
        return f"KAFKA_SASL_MECHANISM: {text}"
    return f"KAFKA_* settings: {text}"
