"""The whole local stack: a Kafka bootstrap address and an S3 endpoint, with the default topics
and buckets.

Each part comes from the first of these that applies:

1. the environment: `KAFKA_BOOTSTRAP_SERVERS` / `AWS_ENDPOINT_URL` (nothing is started);
2. Kafka only: a testcontainers broker when a Docker engine answers (checked in well under a
   second; `UPLOAD_STREAM_DOCKER=0` turns this off);
3. the local launchers: `kafka.KafkaBroker` (Java) and `s3.MotoS3Server` (moto), or with
   `UPLOAD_STREAM_S3_SERVER=versitygw` the strict `versitygw.VersityGwServer`.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, Self

from kafka_config.topics import DlqTopic, RequestsTopic, ResultsTopic
from upload_stream_cli.devstack.errors import StackError
from upload_stream_cli.devstack.kafka import KafkaBroker, create_topics
from upload_stream_cli.devstack.lifecycle import Service
from upload_stream_cli.devstack.s3 import (
    FAKE_AWS_ENV,
    LocalS3Server,
    MotoS3Server,
    create_buckets,
    s3_client,
    staging_bucket_rules,
)
from upload_stream_cli.devstack.secure_kafka import SecureKafkaBroker
from upload_stream_cli.devstack.settings import DevStackSettings
from upload_stream_cli.devstack.versitygw import VersityGwServer

# The topics and buckets a default configuration uses (the settings' own defaults).
REQUESTS_TOPIC: str = RequestsTopic.model_fields["requests_topic"].default
RESULTS_TOPIC: str = ResultsTopic.model_fields["results_topic"].default
DLQ_TOPIC: str = DlqTopic.model_fields["dlq_topic"].default
DEFAULT_TOPICS: tuple[str, ...] = (REQUESTS_TOPIC, RESULTS_TOPIC, DLQ_TOPIC)

DOCUMENTS_BUCKET = "upload-stream-documents"
STAGING_BUCKET = "upload-stream-staging"
DEFAULT_BUCKETS: tuple[str, ...] = (DOCUMENTS_BUCKET, STAGING_BUCKET)

DEFAULT_PARTITIONS = 3

KAFKA_ENV = "KAFKA_BOOTSTRAP_SERVERS"
S3_ENV = "AWS_ENDPOINT_URL"
S3_SERVER_ENV = "UPLOAD_STREAM_S3_SERVER"

#: The local S3 servers: moto (the default: fast, in memory, checks neither signatures nor
#: checksums) and versitygw (checks signatures, checksums and Content-MD5 as S3 does).
S3_SERVERS: tuple[str, ...] = ("moto", "versitygw")

#: Confluent's image, since testcontainers' KafkaContainer drives its start scripts.
#: Confluent Platform 8.0 ships Apache Kafka 4.0 (KRaft only), like the local launcher's 4.1.
KAFKA_IMAGE = "confluentinc/cp-kafka:8.0.0"
_DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"

Source = Literal["env", "docker", "local"]

log = logging.getLogger(__name__)


def docker_available(timeout: float = 3.0) -> bool:
    """True when a Docker engine answers a ping within `timeout` seconds.

    No socket and no `DOCKER_HOST` answers False at once, without the Docker SDK; the timeout
    bounds the case of a `DOCKER_HOST` that does not answer.
    """
    if not DevStackSettings().docker_allowed:
        return False
    host = os.environ.get("DOCKER_HOST", "")
    if not host and not Path(_DEFAULT_DOCKER_SOCKET).exists():
        return False
    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        return False
    # The SDK leaks its socket when the engine fails to answer; under `-W error` (the tests)
    # the ResourceWarning from its finaliser would be reported against an unrelated test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            return _ping_docker(timeout)
        except Exception:  # any failure means "use something else"
            return False
        finally:
            gc.collect()


def _ping_docker(timeout: float) -> bool:
    import docker  # type: ignore[import-untyped]  # testcontainers' dependency

    client = docker.from_env(timeout=timeout)
    try:
        return bool(client.ping())
    finally:
        client.close()


class Stack(Service):
    """A Kafka bootstrap address and an S3 endpoint, started (or found) together.

    >>> with Stack() as stack:          # doctest: +SKIP
    ...     stack.provision()
    ...     print(stack.bootstrap_servers, stack.s3_endpoint)

    `broker` is the local `KafkaBroker` (so tests can stop, kill or pause it) and `s3_server`
    the local S3 server (`MotoS3Server`, or `VersityGwServer` when `UPLOAD_STREAM_S3_SERVER`
    is `versitygw`); both are None when that part comes from elsewhere.
    """

    def __init__(
        self,
        *,
        kafka_port: int = 0,
        s3_port: int = 0,
        environ: Mapping[str, str] | None = None,
        use_docker: bool | None = None,
        secure: bool = False,
    ) -> None:
        self.kafka_port = kafka_port
        self.secure = secure
        self.s3_port = s3_port
        self._environ = os.environ if environ is None else environ
        self._use_docker = use_docker
        self.broker: KafkaBroker | None = None
        self.s3_server: LocalS3Server | None = None
        self.kafka_source: Source | None = None
        self.s3_source: Source | None = None
        self._container: Any = None
        self._bootstrap: str | None = None
        self._endpoint: str | None = None

    @property
    def bootstrap_servers(self) -> str:
        if self._bootstrap is None:
            raise StackError("the stack is not started")
        return self._bootstrap

    @property
    def s3_endpoint(self) -> str:
        if self._endpoint is None:
            raise StackError("the stack is not started")
        return self._endpoint

    @property
    def fake_credentials(self) -> bool:
        """True when S3 is a local server, which needs `FAKE_AWS_ENV` and nothing else."""
        return self.s3_source == "local"

    @property
    def s3_server_name(self) -> str:
        """`moto` or `versitygw` for a local server, `env` for AWS_ENDPOINT_URL's."""
        wanted = self._environ.get(S3_SERVER_ENV, "").strip().lower() or "moto"
        return "env" if self.s3_source == "env" else wanted

    def env(self) -> dict[str, str]:
        """Environment variables a client process needs to reach this stack."""
        env = {KAFKA_ENV: self.bootstrap_servers, S3_ENV: self.s3_endpoint}
        if self.fake_credentials:
            env.update(FAKE_AWS_ENV)
        return env

    def start(self) -> Self:
        """Start (or find) both parts. On failure everything already started is stopped and
        StackError (MissingToolError without java/mvn) is raised."""
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        env_endpoint = self._environ.get(S3_ENV)
        server = self._local_s3_server(env_endpoint)
        if server is None:
            self._endpoint, self.s3_source = env_endpoint, "env"
        else:
            # The S3 server starts in its own process while the JVM boots.
            self.s3_server = server
            self.s3_server.launch()

        env_bootstrap = self._environ.get(KAFKA_ENV)
        if self.secure:  # always a local broker: its users, CA and ACLs are made here
            secure = SecureKafkaBroker(port=self.kafka_port)
            self.broker = secure
            secure.start()
            self._bootstrap, self.kafka_source = secure.bootstrap_servers, "local"
        elif env_bootstrap:
            self._bootstrap, self.kafka_source = env_bootstrap, "env"
        elif self._docker_wanted() and self._start_container():
            self.kafka_source = "docker"
        else:
            self.broker = KafkaBroker(port=self.kafka_port)
            self.broker.start()
            self._bootstrap, self.kafka_source = self.broker.bootstrap_servers, "local"

        if self.s3_server is not None:
            self.s3_server.wait_ready()
            self._endpoint, self.s3_source = self.s3_server.endpoint, "local"

    def _local_s3_server(self, env_endpoint: str | None) -> LocalS3Server | None:
        """The local S3 server to start, or None when AWS_ENDPOINT_URL names one."""
        name = self._environ.get(S3_SERVER_ENV, "").strip().lower()
        if name and name not in S3_SERVERS:
            raise StackError(f"{S3_SERVER_ENV}={name!r}: expected one of {', '.join(S3_SERVERS)}")
        if env_endpoint:
            if name:  # asked for a local server, but would silently test another one
                raise StackError(f"{S3_SERVER_ENV} and {S3_ENV} are both set: unset one")
            return None
        if name == "versitygw":
            return VersityGwServer()
        return MotoS3Server(port=self.s3_port)

    def _docker_wanted(self) -> bool:
        if self._use_docker is not None:
            return self._use_docker and docker_available()
        return docker_available()

    def _start_container(self) -> bool:
        """A KRaft broker in Docker; False (after a warning) when it cannot be started."""
        try:
            from testcontainers.community.kafka import KafkaContainer

            container = KafkaContainer(KAFKA_IMAGE).with_kraft()
            for key, value in {
                "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
                "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
                "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
            }.items():
                container.with_env(key, value)
            container.start(timeout=120)
        except Exception as exc:
            print(
                f"Docker answered but its Kafka did not start ({exc}); using the local broker",
                file=sys.stderr,
            )
            return False
        self._container = container
        self._bootstrap = str(container.get_bootstrap_server())
        return True

    def provision(
        self,
        topics: Iterable[str] = DEFAULT_TOPICS,
        buckets: Iterable[str] = DEFAULT_BUCKETS,
        partitions: int = DEFAULT_PARTITIONS,
    ) -> None:
        """Create the topics and buckets (existing ones are kept); on a secured broker, grant
        each role user its ACLs (`devstack.acls`). The staging bucket gets CORS for browser
        uploads and its expiry rule."""
        buckets = tuple(buckets)
        if isinstance(self.broker, SecureKafkaBroker):
            self.broker.create_topics(topics, partitions)
            self.broker.grant_roles()
        else:
            create_topics(self.bootstrap_servers, topics, partitions)
        create_buckets(self.s3_endpoint, buckets, fake_credentials=self.fake_credentials)
        if STAGING_BUCKET in buckets:
            client = s3_client(self.s3_endpoint, fake_credentials=self.fake_credentials)
            try:
                staging_bucket_rules(client, STAGING_BUCKET)
            finally:
                client.close()

    def close(self) -> None:
        """Stop whatever this stack started (broker first: clients notice S3 last)."""
        if self.broker is not None:
            self.broker.close()
        if self._container is not None:
            try:
                self._container.stop()
            except Exception as exc:  # teardown must go on
                log.warning("could not stop the Kafka container: %s", exc)
            self._container = None
        if self.s3_server is not None:
            self.s3_server.close()
