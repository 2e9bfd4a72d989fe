"""`run`: wire the consumer together and run it until `stop` is set.

One process = one member of the consumer group. Threads and greenlets:
- this greenlet runs `ConsumerLoop` (the only owner of the Kafka handles);
- one greenlet per request being uploaded (the engine adds its own per-file workers);
- the HTTP server greenlet (/metrics, /healthz, /readyz) when a port is set;
- gevent's threadpool runs librdkafka's blocking calls (transactions, sync commits).
"""

from __future__ import annotations

import logging

from confluent_kafka import Consumer, KafkaError, Producer
from gevent.event import Event

from consumer import health
from consumer.dispatch import Engine, Policy
from consumer.errors import ConfigurationError, FatalKafkaError
from consumer.kafka_io import KafkaIO, consumer_config, default_transactional_id, producer_config
from consumer.loop import ConsumerLoop
from consumer.metrics import Metrics
from consumer.settings import ConsumerSettings
from kafka_config.connection import KafkaConnection
from upload_engine.settings import EngineSettings

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1


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
            _on_error(loop, err)

        made.append(Producer({**producer_conf, "error_cb": on_error}))
        return made[0]

    io = KafkaIO(
        Consumer(
            {
                **consumer_conf,
                "error_cb": lambda e: _on_error(loop, e),
                "stats_cb": metrics.on_stats,
            }
        ),
        new_producer(),
        idle_s=settings.poll_idle_s,
        new_producer=new_producer,
    )
    loop = ConsumerLoop(
        settings=settings,
        policy=Policy.of(settings, engine_settings),
        io=io,
        engine=engine,
        metrics=metrics,
    )
    server = (
        health.serve(metrics_host, settings.metrics_port, metrics.registry, lambda: loop.ready)
        if settings.metrics_port
        else None
    )
    status = EXIT_OK
    try:
        log.info(
            "consuming %s as %s (%s, transactional.id %s)",
            settings.requests_topic,
            settings.group_id,
            settings.processing_guarantee.value,
            txn_id,
        )
        loop.start()
        while not stop.is_set():
            loop.step()
        loop.drain(settings.drain_timeout_s)
    except FatalKafkaError as exc:
        log.error("fatal Kafka error, exiting for a restart: %s", exc)
        status = EXIT_FAILURE
    finally:
        loop.close()
        engine.close()
        if server is not None:
            server.stop(timeout=1)
        log.info("stopped", extra={"summary": metrics.summary()})
    return status


def _on_error(loop: ConsumerLoop | None, err: KafkaError) -> None:
    if loop is not None:
        loop.on_error(err)
