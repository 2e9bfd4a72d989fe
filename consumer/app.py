"""`run`: wire the consumer together and run it until `stop` is set.

One process = one member of the consumer group. Threads and greenlets:
- this greenlet runs `ConsumerLoop` (the owner of the Kafka handles);
- one greenlet per request being uploaded (the engine adds its own per-file workers);
- the HTTP server greenlet (/metrics, /healthz, /readyz) when a port is set;
- a greenlet serving the producer's queue (librdkafka's log lines) while the loop waits;
- gevent's threadpool runs librdkafka's blocking calls (transactions, sync commits).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import gevent
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from gevent.event import Event

from consumer import health
from consumer.dispatch import Engine, Policy
from consumer.errors import ConfigurationError, FatalKafkaError
from consumer.kafka_faults import ABOUT_A_TOPIC, Context
from consumer.kafka_io import KafkaIO, consumer_config, default_transactional_id, producer_config
from consumer.loop import ConsumerLoop
from consumer.metrics import Metrics
from consumer.settings import ConsumerSettings
from consumer.staging_cleanup import StagingCleanup
from consumer.timeline import Timeline
from kafka_config.connection import KafkaConnection
from upload_engine.allowlist import Allowlist
from upload_engine.settings import EngineSettings

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
#: A broker must answer (and accept our credentials) within this at start-up.
PREFLIGHT_TIMEOUT_S = 15.0
#: How late a producer log line may be written while the loop waits on librdkafka.
LOG_PUMP_INTERVAL_S = 0.2


def check(settings: ConsumerSettings, engine: EngineSettings) -> None:
    """What pydantic cannot say alone: the two values the consumer cannot run without."""
    if not engine.default_bucket:
        raise ConfigurationError("UPLOAD_STREAM_DEFAULT_BUCKET is required")
    if not engine.staging_allowlist:
        raise ConfigurationError("UPLOAD_STREAM_STAGING_ALLOWLIST is required")
    if settings.session_timeout_ms > settings.max_poll_interval_ms:
        raise ConfigurationError("session_timeout_ms must not exceed max_poll_interval_ms")


def run(
    settings: ConsumerSettings,
    engine_settings: EngineSettings,
    connection: KafkaConnection,
    *,
    stop: Event,
    engine: Engine | None = None,
    metrics: Metrics | None = None,
    metrics_host: str = "0.0.0.0",  # noqa: S104  (scraped from outside the container)
) -> int:
    check(settings, engine_settings)
    metrics = metrics or Metrics()
    if engine is None:
        from upload_engine import UploadEngine

        engine = UploadEngine(engine_settings, scan_observer=metrics.scan_done)
    txn_id = settings.transactional_id or default_transactional_id(settings.group_id)
    loop: ConsumerLoop | None = None
    io: KafkaIO | None = None

    def ready() -> bool:
        return loop is not None and loop.ready and io is not None and io.failure is None

    server = _serve_health(settings, metrics, metrics_host, ready)
    consumer_conf = consumer_config(connection, settings)
    producer_conf = producer_config(connection, settings, txn_id)

    def new_producer() -> Producer:
        # A replaced (wedged, then fenced) producer reports PRODUCER_FENCED as fatal: that
        # is its end, not ours, so only the current producer's errors reach the loop.
        made: list[Producer] = []

        def on_error(err: KafkaError) -> None:
            if io is not None and made and made[0] is not io.producer:
                log.info("error of a replaced producer, ignored: %s", err)
                return
            _on_error(loop, io, err)

        made.append(Producer({**producer_conf, "error_cb": on_error}))
        return made[0]

    io = KafkaIO(
        Consumer(
            {
                **consumer_conf,
                "error_cb": lambda e: _on_error(loop, io, e),
                "stats_cb": metrics.on_stats,
            }
        ),
        new_producer(),
        idle_s=settings.poll_idle_s,
        new_producer=new_producer,
        context=Context(settings.group_id, txn_id, settings.requests_topic),
    )
    cleanup = staging_cleanup(settings, engine_settings, metrics, engine)
    timeline = Timeline.on() if settings.timeline else Timeline.off()
    loop = ConsumerLoop(
        settings=settings,
        policy=Policy.of(settings, engine_settings),
        io=io,
        engine=engine,
        metrics=metrics,
        on_consumed=cleanup.committed if cleanup is not None else None,
        timeline=timeline,
    )
    status = EXIT_OK
    pump = gevent.spawn(io.pump_producer, LOG_PUMP_INTERVAL_S)
    try:
        log.info(
            "consuming %s as %s (%s, transactional.id %s)",
            settings.requests_topic,
            settings.group_id,
            settings.processing_guarantee.value,
            txn_id,
        )
        io.preflight(PREFLIGHT_TIMEOUT_S)
        io.check_topics(
            [settings.requests_topic],
            [settings.results_topic, settings.dlq_topic, *settings.allowed_reply_topics],
            PREFLIGHT_TIMEOUT_S,
        )
        timeline.start()
        loop.start()
        if cleanup is not None:
            cleanup.start()
        while not stop.is_set():
            loop.step()
        loop.drain(settings.drain_timeout_s)
    except FatalKafkaError as exc:
        log.error("fatal Kafka error, exiting for a restart: %s", _explained(io, exc))
        status = EXIT_FAILURE
    finally:
        pump.kill()  # before the producer is closed under it
        loop.close()
        if cleanup is not None:
            cleanup.close()
        engine.close()
        if server is not None:
            server.stop(timeout=1)
        timeline.stop()
        log.info("stopped", extra={"summary": metrics.summary()})
    return status


def staging_cleanup(
    settings: ConsumerSettings, engine_settings: EngineSettings, metrics: Metrics, engine: Engine
) -> StagingCleanup | None:
    """The deleter of consumed staged blobs, on the engine's S3 client (or a small one of
    its own for another engine); None when turned off."""
    from upload_engine import UploadEngine

    if not settings.delete_staged_after_commit:
        return None
    allow = Allowlist.parse(engine_settings.staging_allowlist)
    client = engine.client if isinstance(engine, UploadEngine) else None
    if client is None and allow.s3_roots:
        from upload_engine.s3_client import open_s3_client

        client, _session = open_s3_client(engine_settings, max_pool_connections=4)
    return StagingCleanup(
        client=client, allowlist=allow, metrics=metrics, capacity=settings.staging_cleanup_queue
    )


def _explained(io: KafkaIO, exc: FatalKafkaError) -> FatalKafkaError:
    """The error with the permission or setting to fix, where kafka_faults knows it (an
    `init_transactions` refused for the transactional id, say)."""
    if io.failure is not None:
        return io.failure
    cause = exc.__cause__
    err = cause.args[0] if isinstance(cause, KafkaException) and cause.args else None
    if isinstance(err, KafkaError) and err.code() not in ABOUT_A_TOPIC and io.fail(err):
        return io.failure or exc
    return exc


def _serve_health(
    settings: ConsumerSettings, metrics: Metrics, host: str, ready: Callable[[], bool]
) -> Any:
    """/metrics, /healthz, /readyz, before Kafka is touched; a port in use is a
    configuration error (exit 2), not a traceback."""
    if not settings.metrics_port:
        return None
    try:
        return health.serve(host, settings.metrics_port, metrics.registry, ready)
    except OSError as exc:
        raise ConfigurationError(
            f"UPLOAD_STREAM_METRICS_PORT={settings.metrics_port}: cannot listen on "
            f"{host}:{settings.metrics_port}: {exc.strerror or exc}"
        ) from None


def _on_error(loop: ConsumerLoop | None, io: KafkaIO | None, err: KafkaError) -> None:
    # An error no retry fixes (kafka_faults) ends the process at the loop's next step,
    # which logs it once.
    if io is not None and io.fail(err):
        return
    if loop is not None:
        loop.on_error(err)
