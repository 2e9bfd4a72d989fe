"""`upload-stream consume`: one consumer process of the group, until SIGTERM / SIGINT.

Configured only from the environment (operating-interface document); `--help` lists every
variable with its default. Settings are validated before anything connects: a missing or
bad value exits 2 with a one-line reason.
"""

from __future__ import annotations

import argparse
from typing import Any

from pydantic_settings import BaseSettings

from upload_stream_cli.errors import UsageError


def _settings_classes() -> list[tuple[type[BaseSettings], str]]:
    from consumer.settings import ConsumerSettings
    from kafka_config.connection import KafkaConnection
    from upload_engine.settings import EngineSettings

    return [
        (KafkaConnection, "KAFKA_"),
        (EngineSettings, "UPLOAD_STREAM_"),
        (ConsumerSettings, "UPLOAD_STREAM_"),
    ]


def _describe(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "empty"
    return str(getattr(value, "value", value))


def environment_help() -> str:
    """Every variable the command reads, with its default and meaning."""
    lines = ["environment (defaults in brackets):"]
    for cls, prefix in _settings_classes():
        for name, field in cls.model_fields.items():
            default = _describe(field.get_default(call_default_factory=True))
            about = f"  {field.description}" if field.description else ""
            lines.append(f"  {prefix}{name.upper()} [{default}]{about}")
    lines.append("  plus boto3's AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, ...")
    return "\n".join(lines)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "consume",
        help="run one consumer process of the group until SIGTERM / SIGINT",
        description=(
            "Read upload requests, upload their files to S3, publish one result per request "
            "(exactly once by default), dead-letter what cannot be read. Required: "
            "UPLOAD_STREAM_DEFAULT_BUCKET and UPLOAD_STREAM_STAGING_ALLOWLIST. Exit status: "
            "0 after a clean drain, 2 for bad configuration, 1 after a fatal Kafka error."
        ),
        epilog=environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    del args
    from gevent.event import Event

    from consumer import app, logs, shutdown
    from consumer.errors import ConfigurationError
    from consumer.settings import ConsumerSettings
    from kafka_config.connection import KafkaConnection
    from upload_engine.settings import EngineSettings

    settings = ConsumerSettings()
    engine_settings = EngineSettings()
    connection = KafkaConnection()
    try:
        app.check(settings, engine_settings)
    except ConfigurationError as exc:
        raise UsageError(str(exc)) from None
    logs.configure(settings.log_format, settings.log_level)
    stop = Event()
    shutdown.install(stop)
    try:
        return app.run(settings, engine_settings, connection, stop=stop)
    except ConfigurationError as exc:  # found once running: a taken metrics port
        raise UsageError(str(exc)) from None
