"""A real Apache Kafka broker for `upload-stream dev` and the tests: KRaft mode, one node that
is both broker and controller, run as `java -cp '<jars>/*' kafka.Kafka server.properties`.

No broker ships on PyPI or in Debian here, so the official jars come from Maven Central with
`mvn dependency:copy-dependencies` on the packaged pom.xml, into a cache dir reused across
runs (`$UPLOAD_STREAM_CACHE_DIR` or `~/.cache/upload-stream`, one folder per version).

The settings make transactions and consumer groups work on a single node (replication factor
1 for the internal topics, no initial rebalance delay) and keep start-up short (few internal
partitions, a small heap, the C1 compiler only).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Self

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from upload_stream_cli.devstack.errors import MissingToolError, StackError
from upload_stream_cli.devstack.lifecycle import ChildProcessService
from upload_stream_cli.devstack.ports import LOOPBACK, free_ports, port_open
from upload_stream_cli.devstack.process import launch, make_workdir, run, stop_process, tail
from upload_stream_cli.devstack.settings import DevStackSettings

KAFKA_VERSION = "4.1.1"

#: SerialGC and C1-only start the broker faster than the defaults (G1, tiered up to C2);
#: a test broker never runs long enough to need C2.
JVM_OPTIONS: tuple[str, ...] = (
    "-Xms256m",
    "-Xmx768m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)

_MVN_TIMEOUT = 900.0  # a cold Maven repository downloads ~45 MB
_LOCK_TIMEOUT = _MVN_TIMEOUT + 60.0
_PORT_ATTEMPTS = 3

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where resolved jars live: `$UPLOAD_STREAM_CACHE_DIR`, else `~/.cache/upload-stream`."""
    return DevStackSettings().cache_path


@contextlib.contextmanager
def _file_lock(path: Path, timeout: float) -> Iterator[None]:
    """An exclusive lock across processes (two test sessions may resolve at once).

    Polls with LOCK_NB instead of blocking in flock, so a gevent hub keeps running and a
    SIGTERM during a long resolution is still handled.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StackError(f"timed out waiting for the lock {path}") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_kafka_jars(version: str = KAFKA_VERSION, root: Path | None = None) -> Path:
    """Return the directory holding the broker's jars, resolving them with Maven if missing.

    A `.complete` marker is written only after mvn succeeded, so a copy cut short (Ctrl-C,
    network error) is thrown away and redone on the next call.
    """
    target = (root or cache_dir()) / f"kafka-{version}"
    libs = target / "libs"
    marker = target / ".complete"
    if marker.is_file():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MissingToolError(
            "mvn (Apache Maven) is not on PATH: it resolves the Kafka broker jars; install it "
            "or point KAFKA_BOOTSTRAP_SERVERS at a running broker"
        )
    with _file_lock(target.with_name(target.name + ".lock"), _LOCK_TIMEOUT):
        if marker.is_file():  # another process finished while we waited
            return libs
        shutil.rmtree(libs, ignore_errors=True)
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target, prefix="mvn-") as work:
            # mvn may write next to the pom; the installed package may be read-only.
            pom = Path(work) / "pom.xml"
            pom.write_bytes(resources.files(__package__).joinpath("pom.xml").read_bytes())
            mvn_log = Path(work) / "mvn.log"
            argv = [
                mvn,
                "-B",
                "--no-transfer-progress",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={libs}",
                "-DincludeScope=runtime",
                f"-Dkafka.version={version}",
            ]
            log.info("resolving Kafka %s jars into %s", version, libs)
            try:
                status = run(argv, log=mvn_log, timeout=_MVN_TIMEOUT, cwd=Path(work))
            except subprocess.TimeoutExpired:
                raise StackError(
                    f"mvn did not resolve Kafka {version} within {_MVN_TIMEOUT} s"
                ) from None
            if status != 0 or not any(libs.glob("kafka_2.13-*.jar")):
                raise StackError(
                    f"mvn could not resolve the Kafka {version} jars (exit {status}):\n"
                    f"{tail(mvn_log)}"
                )
        marker.write_text(f"kafka {version}\n", encoding="utf-8")
    return libs


def find_java() -> str:
    """The `java` to run the broker with: `$JAVA_HOME/bin/java`, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise MissingToolError(
            "java is not on PATH: the local Kafka broker needs Java 17 or later; install it "
            "or point KAFKA_BOOTSTRAP_SERVERS at a running broker"
        )
    return java


def new_cluster_id() -> str:
    """A random KRaft cluster id: 16 bytes, URL-safe base64 without padding (22 chars).

    Like Kafka's own `Uuid.randomUuid()`, never one starting with "-": StorageTool's argument
    parser would take it for an option (1 run in 64 failed that way).
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not text.startswith("-"):
            return text


def broker_properties(port: int, controller_port: int, data_dir: Path) -> dict[str, str]:
    """server.properties for a one-node KRaft cluster listening on 127.0.0.1 only.

    A static `controller.quorum.voters` needs no `--standalone`/`--initial-controllers`
    when formatting, which keeps StorageTool's invocation to `format -t ID -c FILE`.
    """
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{LOOPBACK}:{controller_port}",
        "listeners": f"PLAINTEXT://{LOOPBACK}:{port},CONTROLLER://{LOOPBACK}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "auto.create.topics.enable": "false",
        # Internal topics must fit on one broker, or groups and transactions never work.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "5",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "5",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
    }


def _admin(config: str | Mapping[str, str]) -> AdminClient:
    """An admin client for a bootstrap address, or for a full librdkafka config."""
    settings: dict[str, Any] = (
        {"bootstrap.servers": config} if isinstance(config, str) else dict(config)
    )
    # librdkafka's own log lines would go to stderr; route them through `logging`.
    return AdminClient(settings, logger=log)


def create_topics(
    bootstrap_servers: str | Mapping[str, str],
    names: Iterable[str],
    partitions: int = 3,
    *,
    replication_factor: int = 1,
    config: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> None:
    """Create topics (existing ones are left as they are) and wait until every partition has
    a leader, so a producer started right after never sees UNKNOWN_TOPIC_OR_PART.
    `bootstrap_servers` may be a whole librdkafka config (a secured broker's admin)."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return
    admin = _admin(bootstrap_servers)
    new = [
        NewTopic(name, partitions, replication_factor, config=dict(config or {})) for name in wanted
    ]
    deadline = time.monotonic() + timeout
    for name, future in admin.create_topics(new, operation_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise StackError(f"could not create topic {name!r}: {exc}") from exc
    while True:
        topics = admin.list_topics(timeout=max(0.5, deadline - time.monotonic())).topics
        missing = [
            name
            for name in wanted
            if name not in topics
            or topics[name].error is not None
            or any(p.leader < 0 for p in topics[name].partitions.values())
        ]
        if not missing:
            return
        if time.monotonic() > deadline:
            raise StackError(f"topics without a leader after {timeout} s: {missing}")
        time.sleep(0.05)


class KafkaBroker(ChildProcessService):
    """One Kafka broker process with its own work dir (config, data, logs) and loopback ports.

    `start()` formats fresh storage the first time; afterwards `stop()`/`start()` (or
    `kill()`/`start()` for a crash) bring the same node back on the same ports with its data,
    which is what reliability tests need. `pause()`/`resume()` freeze the process (SIGSTOP)
    to simulate a hung broker whose connections stay open. `close()` stops it and deletes the
    work dir. Port 0 means "pick a free port".
    """

    def __init__(
        self,
        *,
        port: int = 0,
        controller_port: int = 0,
        version: str = KAFKA_VERSION,
        jvm_options: Sequence[str] = JVM_OPTIONS,
        properties: Mapping[str, str] | None = None,
        start_timeout: float = 90.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.port = port
        self.controller_port = controller_port
        self.version = version
        self.jvm_options = tuple(jvm_options)
        self.extra_properties = dict(properties or {})
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._auto_ports = port == 0 or controller_port == 0
        self._workdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._classpath = ""
        self._java = ""

    # -- what clients need ---------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        """`127.0.0.1:PORT`, valid from the first `start()` on (also while stopped)."""
        if self.port == 0:
            raise StackError("the broker has no port yet: call start() first")
        return f"{LOOPBACK}:{self.port}"

    @property
    def workdir(self) -> Path | None:
        """The temp dir with server.properties, `data/` and `logs/`; None before start."""
        return self._workdir

    @property
    def log_path(self) -> Path | None:
        """The broker's log4j log (WARN and above)."""
        return self._workdir / "logs" / "server.log" if self._workdir else None

    def log_tail(self, lines: int = 30) -> str:
        """The end of the JVM's stdout/stderr and of the broker log, for error messages."""
        if self._workdir is None:
            return "(not started)"
        logs = self._workdir / "logs"
        return (
            f"--- {logs / 'kafka.out'} ---\n{tail(logs / 'kafka.out', lines)}\n"
            f"--- {logs / 'server.log'} ---\n{tail(logs / 'server.log', lines)}"
        )

    # -- life cycle ----------------------------------------------------------------------

    def start(self) -> Self:
        """Start the broker and wait until it answers metadata requests.

        Raises MissingToolError without java or mvn, StackError when the process dies or does
        not answer within `start_timeout` (the message ends with the tail of its logs).
        """
        if self.running:
            return self
        if not self._java:
            self._java = find_java()
            self._classpath = str(ensure_kafka_jars(self.version) / "*")
        if self._workdir is not None:  # a restart: same ports, same data
            self._launch()
            self._wait_ready()
            return self
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            self._prepare()
            self._launch()
            try:
                self._wait_ready()
                return self
            except StackError:
                lost_port_race = "Address already in use" in self.log_tail(200)
                if not (self._auto_ports and lost_port_race and attempt < _PORT_ATTEMPTS):
                    raise
                log.warning("Kafka port taken by another process; retrying with new ports")
                self.close()
                self.port = self.controller_port = 0
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self, timeout: float | None = None) -> None:
        """Shut the broker down (SIGTERM, SIGKILL after `timeout`); keeps ports and data."""
        if self._proc is not None:
            stop_process(self._proc, self.stop_timeout if timeout is None else timeout)
            self._proc = None

    def kill(self) -> None:
        """SIGKILL the broker, as a crash would; `start()` recovers its logs afterwards."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): sockets stay open but nothing answers."""
        if self._proc is not None and self.running:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo `pause()`."""
        if self._proc is not None and self.running:
            self._proc.send_signal(signal.SIGCONT)

    def restart(self) -> Self:
        """`stop()` then `start()`: the same node comes back with its data."""
        self.stop()
        return self.start()

    def create_topics(self, names: Iterable[str], partitions: int = 3, **kwargs: Any) -> None:
        """`create_topics()` on this broker."""
        create_topics(self.admin_config(), names, partitions, **kwargs)

    # -- internals -----------------------------------------------------------------------

    def _prepare(self) -> None:
        """Pick ports, write the config files and format the storage of a new node."""
        if self.port == 0 or self.controller_port == 0:
            self.port, self.controller_port = free_ports(2)
        workdir = make_workdir("kafka", str(self.port))
        self._workdir = workdir
        (workdir / "logs").mkdir()
        props = broker_properties(self.port, self.controller_port, workdir / "data")
        props.update(self._more_properties(workdir))
        props.update(self.extra_properties)
        (workdir / "server.properties").write_text(
            "".join(f"{key}={value}\n" for key, value in props.items()), encoding="utf-8"
        )
        (workdir / "log4j2.properties").write_bytes(
            resources.files(__package__).joinpath("log4j2.properties").read_bytes()
        )
        argv = [
            *self._java_argv(),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            new_cluster_id(),
            "-c",
            str(workdir / "server.properties"),
            *self._format_arguments(),
        ]
        format_log = workdir / "logs" / "format.out"
        try:
            status = run(argv, log=format_log, timeout=120.0, cwd=workdir)
        except subprocess.TimeoutExpired:
            status = -1
        if status != 0:
            raise StackError(
                f"formatting Kafka storage failed (exit {status}):\n{tail(format_log)}"
            )

    def _more_properties(self, workdir: Path) -> dict[str, str]:
        """Properties a variant of the broker adds (listeners, TLS files...); none here."""
        del workdir
        return {}

    def _format_arguments(self) -> list[str]:
        """More `StorageTool format` arguments (SCRAM users); none here."""
        return []

    def admin_config(self) -> dict[str, str]:
        """librdkafka settings of a client allowed to do anything on this broker."""
        return {"bootstrap.servers": self.bootstrap_servers}

    def _java_argv(self) -> list[str]:
        assert self._workdir is not None
        return [
            self._java,
            *self.jvm_options,
            f"-Dlog4j2.configurationFile={self._workdir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self._workdir / 'logs'}",
            "-cp",
            self._classpath,
        ]

    def _launch(self) -> None:
        assert self._workdir is not None
        argv = [*self._java_argv(), "kafka.Kafka", str(self._workdir / "server.properties")]
        self._proc = launch(argv, log=self._workdir / "logs" / "kafka.out", cwd=self._workdir)

    def _wait_ready(self) -> None:
        """Poll until the broker answers a metadata request; on failure stop it and raise."""
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        admin: AdminClient | None = None
        while True:
            status = self._proc.poll()
            if status is not None:
                self._proc = None
                raise StackError(
                    f"the Kafka broker exited with status {status} during start-up\n"
                    f"{self.log_tail()}"
                )
            if port_open(self.port):  # cheap, and keeps librdkafka from logging refusals
                admin = admin or _admin(self.admin_config())
                try:
                    if admin.list_topics(timeout=2.0).brokers:
                        return
                except KafkaException:
                    pass
            if time.monotonic() > deadline:
                self.stop(timeout=5.0)
                raise StackError(
                    f"the Kafka broker did not answer within {self.start_timeout} s\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.1)
