"""The test harness: gevent patching, fake AWS credentials, and the real local stack.

The product runs monkey-patched (see `upload_stream_cli.entry`), so the tests do too, and
patching must come before anything imports botocore (else boto3 clients die with a
RecursionError in ssl). Hence the first statements of this file.

Fixtures (details in each docstring):

- `stack` (session): a started `Stack` with `.bootstrap_servers`, `.s3_endpoint`, `.broker`.
  Started only when a test asks for it, so `pytest tests/unit` never starts Java.
- `local_broker`: the local `KafkaBroker` for tests that stop, kill or pause it.
- `kafka_config`, `kafka_topics(*roles, partitions=3)`, `group_id`: Kafka helpers.
- `s3`, `make_bucket(prefix="test", create=True)`: S3 helpers.
- `consumer_rig(*extra_roles, partitions=3, bucket=None)`: topics, a bucket, a staging
  directory and the consumers and readers of one test, cleaned up afterwards.
- `clamd` (session): a real clamd (Debian's clamav-daemon) with the tests' own signature
  database (tests/samples.py), running again at the start of every test that asks.

A stack that cannot start skips the tests that need it on a laptop, and fails them when the
`CI` environment variable is set: CI must never pass by skipping.

The S3-facing integration files in `STRICT_S3_FILES` are marked `strict_s3`; `make test`
runs them a second time with `UPLOAD_STREAM_S3_SERVER=versitygw`, a server that checks
signatures and checksums as S3 does (moto checks neither).
"""

import sys

if "botocore" in sys.modules:
    raise RuntimeError(
        "botocore was imported before gevent patched the standard library (by a pytest plugin "
        "or an earlier conftest); boto3 clients would fail with a RecursionError in ssl"
    )

from gevent import monkey

monkey.patch_all()

import contextlib  # noqa: E402
import os  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar  # noqa: E402

import pytest  # noqa: E402

from upload_stream_cli.devstack.errors import StackError  # noqa: E402
from upload_stream_cli.devstack.kafka import (  # noqa: E402
    KafkaBroker,
    create_topics,
    ensure_kafka_jars,
)
from upload_stream_cli.devstack.lifecycle import Service  # noqa: E402
from upload_stream_cli.devstack.s3 import FAKE_AWS_ENV, s3_client  # noqa: E402
from upload_stream_cli.devstack.stack import (  # noqa: E402
    KAFKA_ENV,
    S3_ENV,
    S3_SERVER_ENV,
    Stack,
    docker_available,
)
from upload_stream_cli.devstack.versitygw import ensure_versitygw  # noqa: E402

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from tests.integration.consumer_helpers import RigFactory
    from upload_engine import UploadEngine

# Fake credentials for the whole session (values already set win): nothing under test may
# reach real AWS or wait for an EC2 metadata service.
for _name, _value in FAKE_AWS_ENV.items():
    os.environ.setdefault(_name, _value)

_TESTS = Path(__file__).resolve().parent

# Fixture modules shared across tiers, registered here instead of imported with noqa.
pytest_plugins = ["tests.unit.engine_support"]


def unavailable(reason: str) -> NoReturn:
    """Skip on a laptop, fail under CI: a missing service must never look like a pass."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(reason)


S = TypeVar("S", bound=Service)


@contextlib.contextmanager
def started(service: S, what: str, then: Callable[[S], object] | None = None) -> Iterator[S]:
    """`service` started (and `then(service)` done), closed afterwards however the test
    ends. One that cannot start is closed and `unavailable`."""
    failure = None
    try:
        service.start()
        if then is not None:
            then(service)
    except StackError as exc:
        service.close()
        failure = f"{what} did not start: {exc}"
    if failure is not None:  # outside `except`: the report shows the reason, not a chain
        unavailable(failure)
    try:
        yield service
    finally:
        service.close()


def unique(prefix: str) -> str:
    """A lowercase name unique to this call, valid for topics, groups and buckets."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


#: The integration files (paths below tests/integration) that also run against versitygw
#: (`-m strict_s3`): the engine over HTTP (single PUT, fast PUT, multipart, copy), S3
#: staging, AWSService and the consumer's end-to-end contract. The rest (Kafka faults, ops
#: tools, CLI) meet S3 the same way.
STRICT_S3_FILES = frozenset(
    {
        "upload_engine/test_http.py",
        "upload_engine/test_fast_put_http.py",
        "upload_engine/test_s3_strict.py",
        "producer_lib/test_staging_s3.py",
        "producer_lib/test_aws_service_direct.py",
        "consumer/test_contract.py",
    }
)


def pytest_report_header(config: pytest.Config) -> str:
    """Which S3 the stack will use, so a CI log tells the moto run from the strict one."""
    if os.environ.get(S3_ENV):
        return f"S3: {S3_ENV} (nothing started)"
    return f"S3: local {os.environ.get(S3_SERVER_ENV) or 'moto'} (set {S3_SERVER_ENV} to change)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration as `integration`, and those of
    `STRICT_S3_FILES` as `strict_s3`."""
    integration = _TESTS / "integration"
    for item in items:
        if integration in item.path.parents:
            item.add_marker(pytest.mark.integration)
            if item.path.relative_to(integration).as_posix() in STRICT_S3_FILES:
                item.add_marker(pytest.mark.strict_s3)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Resolve the Kafka jars before any test runs when a selected test needs the stack.

    A cold Maven download can take minutes, and pytest-timeout counts fixture set-up against
    the first test that asks for `stack`. Failures are left for that fixture to report.
    """
    if not any("stack" in getattr(i, "fixturenames", ()) for i in session.items):
        return
    # A cold `go install` of versitygw takes about a minute.
    wanted = os.environ.get(S3_SERVER_ENV, "").strip().lower()
    if wanted == "versitygw" and not os.environ.get(S3_ENV):
        with contextlib.suppress(StackError):
            ensure_versitygw()
    if os.environ.get(KAFKA_ENV) or docker_available():
        return

    with contextlib.suppress(StackError):
        ensure_kafka_jars()


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The started local stack, shared by the whole session.

    Kafka and S3 come from `KAFKA_BOOTSTRAP_SERVERS` / `AWS_ENDPOINT_URL` when set, else a
    testcontainers broker when Docker answers, else a local Java broker and a moto server
    (see `upload_stream_cli.devstack.stack`). The default topics and buckets exist. Use
    `.bootstrap_servers`, `.s3_endpoint`, `.env()` (variables for a subprocess) and
    `.broker` (the local `KafkaBroker`, or None). Prefer `kafka_topics` and `make_bucket`
    to the shared default topics and buckets, so tests do not see each other's data.
    """
    with started(Stack(), "the local stack", Stack.provision) as running:
        yield running


@pytest.fixture
def local_broker(stack: Stack) -> Iterator[KafkaBroker]:
    """The stack's local `KafkaBroker`, for tests that `stop()`/`start()`, `kill()` or
    `pause()`/`resume()` it. After the test it is resumed and restarted if needed, so the
    next test finds it running. Without a local broker (Kafka is external) it goes through
    `unavailable`: a failure under CI, a skip on a laptop."""
    broker = stack.broker
    if broker is None:
        unavailable(f"Kafka comes from {stack.kafka_source}, not a local broker to stop")
    try:
        yield broker
    finally:
        broker.resume()
        if not broker.running:
            broker.start()


@pytest.fixture
def kafka_config(stack: Stack) -> dict[str, str]:
    """`{"bootstrap.servers": ...}` for the stack's broker; copy it and add your settings."""
    return {"bootstrap.servers": stack.bootstrap_servers}


@pytest.fixture
def kafka_topics(stack: Stack) -> Iterator[Callable[..., dict[str, str]]]:
    """Factory: `kafka_topics(*roles, partitions=3) -> {role: topic}` creates fresh topics
    with unique names (ready to use: every partition has a leader), e.g.
    `kafka_topics("requests", "results", "dlq")["requests"]`. They are deleted afterwards."""
    created: list[str] = []

    def make(*roles: str, partitions: int = 3) -> dict[str, str]:
        names = {role: unique(f"test.{role}") for role in roles}
        create_topics(stack.bootstrap_servers, names.values(), partitions)
        created.extend(names.values())
        return names

    yield make
    if created:
        _delete_topics(stack.bootstrap_servers, created)


def _delete_topics(bootstrap_servers: str, names: list[str]) -> None:
    """Best effort: keeps a long session's broker small; a failure here is not the test's."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    for future in admin.delete_topics(names, operation_timeout=10).values():
        with contextlib.suppress(Exception):
            future.result(timeout=15)


@pytest.fixture
def group_id() -> str:
    """A fresh consumer group id, so no committed offsets leak between tests."""
    return unique("test-group")


@pytest.fixture
def s3(stack: Stack) -> Iterator["S3Client"]:
    """A boto3 S3 client on the stack's endpoint (fake credentials for the local moto)."""
    client = s3_client(stack.s3_endpoint, fake_credentials=stack.fake_credentials)
    yield client
    client.close()


@pytest.fixture
def make_bucket(s3: "S3Client") -> Iterator[Callable[..., str]]:
    """Factory: `make_bucket(prefix="test") -> name` creates a bucket with a unique lowercase
    name; with `create=False` only the name is made, for a test to create the bucket later.
    Buckets are emptied and deleted afterwards (moto never gives memory back)."""
    created: list[str] = []

    def make(prefix: str = "test", *, create: bool = True) -> str:
        name = unique(prefix.lower())
        if create:
            s3.create_bucket(Bucket=name)
        created.append(name)
        return name

    yield make
    for name in created:
        _delete_bucket(s3, name)


def _delete_bucket(s3: "S3Client", name: str) -> None:
    """Best effort: delete every object version, then the bucket."""
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=name)
        for page in pages:
            doomed: list[Any] = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            ]
            if doomed:
                s3.delete_objects(Bucket=name, Delete={"Objects": doomed, "Quiet": True})
        s3.delete_bucket(Bucket=name)
    except Exception:
        pass


@pytest.fixture
def consumer_rig(
    stack: Stack,
    kafka_topics: Callable[..., dict[str, str]],
    make_bucket: Callable[..., str],
    s3: "S3Client",
    group_id: str,
    tmp_path: Path,
) -> Iterator["RigFactory"]:
    """Factory: `consumer_rig(*extra_roles, partitions=3, bucket=None) -> ConsumerRig` (see
    `tests.integration.consumer_helpers`): fresh topics for "requests", "results", "dlq" and
    `extra_roles`, the destination `bucket` (default: a new `make_bucket("dest")`), the
    staging directory `tmp_path / "staging"` and the `group_id`. Consumers still running
    after the test are killed and readers closed, before the topics and buckets go."""
    from tests.integration.consumer_helpers import ConsumerRig

    made: list[ConsumerRig] = []

    def make(*extra_roles: str, partitions: int = 3, bucket: str | None = None) -> ConsumerRig:
        topics = kafka_topics("requests", "results", "dlq", *extra_roles, partitions=partitions)
        staging = tmp_path / "staging"
        staging.mkdir(exist_ok=True)
        rig = ConsumerRig(
            stack,
            topics=topics,
            bucket=make_bucket("dest") if bucket is None else bucket,
            staging=staging,
            group_id=group_id,
            s3=s3,
            logs=tmp_path,
        )
        made.append(rig)
        return rig

    try:
        yield make
    finally:
        for rig in made:
            rig.close()


@pytest.fixture
def engine_on_stack(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., "UploadEngine"]]:
    """Factory: `engine_on_stack(**settings)` -> an UploadEngine of its own client, talking
    HTTP to the stack's S3 endpoint (path style; no staging roots unless given). Every
    engine made is closed afterwards."""
    from upload_engine import UploadEngine
    from upload_engine.settings import EngineSettings

    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.s3_endpoint)
    made: list[UploadEngine] = []

    def make(**overrides: Any) -> UploadEngine:
        values: dict[str, Any] = {"staging_allowlist": [], "s3_addressing_style": "path"}
        engine = UploadEngine(EngineSettings(**{**values, **overrides}))
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()


@pytest.fixture(scope="session")
def clamd_session() -> Iterator[Any]:
    """One real clamd for the session (see `clamd`)."""
    from tests.samples import clamd_databases
    from upload_stream_cli.devstack.clamd import CLAMD_TEST_STREAM_MAX_BYTES, ClamdServer

    server = ClamdServer(clamd_databases(), stream_max_bytes=CLAMD_TEST_STREAM_MAX_BYTES)
    with started(server, "clamd"):
        yield server


@pytest.fixture
def clamd(clamd_session: Any) -> Any:
    """The session's `ClamdServer` (`.unix_address`, `.tcp_address`, `.stop()`,
    `.start()`), started again if an earlier test stopped it. Its StreamMaxLength (and
    scan limits) is `CLAMD_TEST_STREAM_MAX_BYTES`, 16 MiB: room for a multipart file."""
    if not clamd_session.running:
        clamd_session.start()
    return clamd_session
