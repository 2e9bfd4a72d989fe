"""`upload-stream consume`: one consumer process of the group, until SIGTERM / SIGINT.

Configured only from the environment (docs/contract/operating-interface.md); `--help`
lists every variable with its default. Settings are validated before anything connects: a missing or
bad value exits 2 with a one-line reason.
"""

from __future__ import annotations

import argparse
from typing import Any

from upload_stream_cli.errors import UsageError


def environment_help() -> str:
    """Every variable the command reads, with its default and meaning."""
    from upload_stream_cli.settings_table import READERS, describe_default, variable

    lines = ["environment (defaults in brackets):"]
    for cls in READERS["consumer"]:
        for name, field in cls.model_fields.items():
            default = describe_default(field.get_default(call_default_factory=True))
            about = f"  {field.description}" if field.description else ""
            lines.append(f"  {variable(cls, name)} [{default}]{about}")
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
