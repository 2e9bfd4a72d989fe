"""The local broker as production runs it: SASL_SSL (SCRAM-SHA-512), ACLs, nothing open.

Listeners, all on 127.0.0.1:
- `SASL_SSL` (`port`): every client, and the broker itself (as `admin`);
- `SSL` (`mtls_port`): client certificates required, `CN=<name>` maps to `User:<name>`,
  so one principal has the same ACLs through either listener;
- `CONTROLLER` (plaintext, KRaft only): its unauthenticated principal `User:ANONYMOUS` is a
  super user, as the controller's own requests must pass the authorizer.

`StandardAuthorizer` with `allow.everyone.if.no.acl.found=false`: a principal may do only
what an ACL grants. SCRAM users are written into the storage at format time (the broker
cannot create them before it runs); `add_user` adds more at run time. A throw-away CA made
with openssl signs the broker's certificate (`devstack.tls`).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._acl import AclBinding
from confluent_kafka.admin._scram import (
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from upload_stream_cli.devstack.acls import ROLES, Names, Rule, bindings, role_rules
from upload_stream_cli.devstack.errors import StackError
from upload_stream_cli.devstack.kafka import KafkaBroker, create_topics
from upload_stream_cli.devstack.ports import LOOPBACK, free_port
from upload_stream_cli.devstack.tls import CertificateAuthority, ClientCertificate

ADMIN = "admin"
MECHANISM = "SCRAM-SHA-512"
_SCRAM_ITERATIONS = 4096
_ACL_TIMEOUT_S = 30.0


class SecureKafkaBroker(KafkaBroker):
    """A `KafkaBroker` with SASL_SSL, mTLS and ACLs; one SCRAM user per role in `ROLES`.

    `client_env(role)` are the `KAFKA_*` variables of that role; `grant_roles()` gives each
    role user exactly its ACLs (`devstack.acls`).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mtls_port = 0
        self.passwords: dict[str, str] = {
            name: secrets.token_urlsafe(18) for name in (ADMIN, *ROLES)
        }
        self.ca: CertificateAuthority | None = None

    # -- what clients need ---------------------------------------------------------------

    @property
    def ca_pem(self) -> Path:
        if self.ca is None:
            raise StackError("the broker has no CA yet: call start() first")
        return self.ca.ca_pem

    @property
    def mtls_bootstrap_servers(self) -> str:
        return f"{LOOPBACK}:{self.mtls_port}"

    def client_env(self, user: str, password: str | None = None) -> dict[str, str]:
        """`KAFKA_*` variables for `user` over SASL_SSL (`password` defaults to its own)."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": MECHANISM,
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": password if password is not None else self.passwords[user],
            "KAFKA_SSL_CA_LOCATION": str(self.ca_pem),
        }

    def client_config(self, user: str) -> dict[str, str]:
        """The same as librdkafka settings."""
        env = self.client_env(user)
        return {
            key.removeprefix("KAFKA_").lower().replace("_", "."): value
            for key, value in env.items()
        }

    def admin_config(self) -> dict[str, str]:
        return self.client_config(ADMIN)

    def client_certificate(self, name: str) -> ClientCertificate:
        """A client certificate for `CN=<name>`: through `mtls_port` it is `User:<name>`."""
        if self.ca is None:
            raise StackError("the broker has no CA yet: call start() first")
        return self.ca.client(name)

    def mtls_env(self, name: str) -> dict[str, str]:
        """`KAFKA_*` variables for `User:<name>` by client certificate (no password)."""
        cert = self.client_certificate(name)
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.mtls_bootstrap_servers,
            "KAFKA_SECURITY_PROTOCOL": "SSL",
            "KAFKA_SSL_CA_LOCATION": str(self.ca_pem),
            "KAFKA_SSL_CERTIFICATE_LOCATION": str(cert.certificate),
            "KAFKA_SSL_KEY_LOCATION": str(cert.key),
            "KAFKA_SSL_KEY_PASSWORD": cert.key_password,
        }

    # -- users and ACLs ------------------------------------------------------------------

    def _admin_client(self) -> AdminClient:
        return AdminClient({**self.admin_config(), "log_level": 0})

    def add_user(self, name: str, password: str | None = None) -> str:
        """Create (or reset) a SCRAM-SHA-512 user; returns its password."""
        password = password or secrets.token_urlsafe(18)
        upsert = UserScramCredentialUpsertion(
            name,
            ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, _SCRAM_ITERATIONS),
            password.encode("utf-8"),
        )
        admin = self._admin_client()  # referenced until the futures resolve
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(timeout=_ACL_TIMEOUT_S)
        self.passwords[name] = password
        # The new credential reaches the SASL listener through the metadata log: wait.
        deadline = time.monotonic() + _ACL_TIMEOUT_S
        probe = AdminClient({**self.client_config(name), "log_level": 0})
        while True:
            try:
                probe.list_topics(timeout=3.0)
                return password
            except KafkaException:
                if time.monotonic() > deadline:
                    raise StackError(f"user {name} cannot log in after creation") from None
                time.sleep(0.2)

    def grant(self, principal: str, rules: Iterable[Rule]) -> None:
        """Allow `principal` exactly what `rules` say (on top of what it has)."""
        self._create_acls(bindings(principal, rules))

    def grant_roles(self, names: Names | None = None) -> None:
        """Each role user gets its role's rules (`devstack.acls.role_rules`)."""
        for role in ROLES:
            self.grant(role, role_rules(role, names))

    def _create_acls(self, acls: list[AclBinding]) -> None:
        if not acls:
            return
        admin = self._admin_client()  # referenced until the futures resolve
        for binding, future in admin.create_acls(acls).items():
            try:
                future.result(timeout=_ACL_TIMEOUT_S)
            except KafkaException as exc:
                raise StackError(f"could not create ACL {binding}: {exc}") from exc

    def create_topics(self, names: Iterable[str], partitions: int = 3, **kwargs: Any) -> None:
        create_topics(self.admin_config(), names, partitions, **kwargs)

    # -- the KafkaBroker hooks ---------------------------------------------------------------

    def _more_properties(self, workdir: Path) -> dict[str, str]:
        if self.mtls_port == 0:
            self.mtls_port = free_port()
        self.ca = CertificateAuthority(workdir / "tls")
        tls = self.ca.broker()
        sasl, mtls, controller = self.port, self.mtls_port, self.controller_port
        admin_jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN}" password="{self.passwords[ADMIN]}";'
        )
        return {
            "listeners": f"SASL_SSL://{LOOPBACK}:{sasl},SSL://{LOOPBACK}:{mtls},"
            f"CONTROLLER://{LOOPBACK}:{controller}",
            "advertised.listeners": f"SASL_SSL://{LOOPBACK}:{sasl},SSL://{LOOPBACK}:{mtls}",
            "listener.security.protocol.map": "SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "SASL_SSL",
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": admin_jaas,
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(tls.keystore),
            "ssl.keystore.password": tls.keystore_password,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(tls.ca_pem),
            "listener.name.ssl.ssl.client.auth": "required",
            "ssl.principal.mapping.rules": "RULE:^CN=([^,]+)$/$1/,DEFAULT",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{ADMIN};User:ANONYMOUS",
        }

    def _format_arguments(self) -> list[str]:
        args: list[str] = []
        for name, password in self.passwords.items():
            args += ["--add-scram", f"{MECHANISM}=[name={name},password={password}]"]
        return args
