"""How to reach the brokers (`KAFKA_*`): shared by the consumer, producer library and ops."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaConnection(BaseSettings):
    """How to reach the brokers; shared by the consumer, the producer library and ops tools."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", frozen=True, extra="ignore")

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

    def librdkafka(self) -> dict[str, str]:
        """librdkafka's dotted keys; the only place the password is unmasked."""
        config = {"bootstrap.servers": self.bootstrap_servers}
        optional = {
            "security.protocol": self.security_protocol,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": self.sasl_username,
            "sasl.password": self.sasl_password.get_secret_value() if self.sasl_password else None,
            "ssl.ca.location": self.ssl_ca_location,
        }
        config.update({k: v for k, v in optional.items() if v})
        return config
