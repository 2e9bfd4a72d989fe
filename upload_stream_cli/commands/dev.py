"""`upload-stream dev`: the local stack in the foreground.

Starts (or finds, see `devstack.stack`) a Kafka broker and an S3 endpoint, creates the default
topics and buckets, prints the `export` lines a shell needs on stdout, and stops everything
on Ctrl-C or SIGTERM (exit 0).

Runs under the entry point's gevent patching: start-up runs in a greenlet so a signal that
arrives while the JVM boots or Maven downloads can cancel it, and the stack's `close()` then
stops whatever was already started.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
from typing import Any

import gevent
from gevent.event import Event

from upload_stream_cli.devstack.acls import ROLES
from upload_stream_cli.devstack.errors import MissingToolError, StackError
from upload_stream_cli.devstack.kafka import KAFKA_VERSION
from upload_stream_cli.devstack.secure_kafka import SecureKafkaBroker
from upload_stream_cli.devstack.stack import (
    DEFAULT_BUCKETS,
    DEFAULT_PARTITIONS,
    DEFAULT_TOPICS,
    KAFKA_ENV,
    S3_ENV,
    Stack,
)
from upload_stream_cli.errors import EXIT_FAILURE, EXIT_OK, UsageError


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0-65535; 0 = any free port)")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="run the local stack (Kafka + S3) in the foreground",
        description=(
            "Start a local Kafka broker (KRaft, Apache Kafka "
            f"{KAFKA_VERSION}, via Java) and an S3 endpoint (moto), create the topics "
            f"{', '.join(DEFAULT_TOPICS)} and the buckets {', '.join(DEFAULT_BUCKETS)}, then "
            f"print `export {KAFKA_ENV}=...` and `export {S3_ENV}=...` lines. A part whose "
            "variable is already set is used as is, not started. Ctrl-C or SIGTERM stops it. "
            "Needs Java 17+ and Maven (jars are cached in $UPLOAD_STREAM_CACHE_DIR or "
            "~/.cache/upload-stream)."
        ),
    )
    parser.add_argument(
        "--kafka-port", type=_port, default=0, help="broker port on 127.0.0.1 (0 = free port)"
    )
    parser.add_argument(
        "--s3-port", type=_port, default=0, help="S3 port on 127.0.0.1 (0 = free port)"
    )
    parser.add_argument(
        "--secure",
        action="store_true",
        help="SASL_SSL (SCRAM-SHA-512) and mTLS with ACLs: a throw-away CA, one user per "
        "role (consumer, producer, ops) holding only its ACLs; prints each role's exports",
    )
    parser.add_argument(
        "--partitions",
        type=_positive,
        default=DEFAULT_PARTITIONS,
        help=f"partitions per topic (default {DEFAULT_PARTITIONS})",
    )
    parser.set_defaults(handler=run_dev)


def _note(message: str) -> None:
    print(f"upload-stream dev: {message}", file=sys.stderr, flush=True)


def _start(stack: Stack, partitions: int) -> None:
    stack.start()
    stack.provision(partitions=partitions)


def _describe(stack: Stack, partitions: int) -> None:
    if stack.broker is not None:
        _note(
            f"Kafka {KAFKA_VERSION} broker pid {stack.broker.pid} at {stack.bootstrap_servers}"
            f", work dir {stack.broker.workdir}"
        )
    else:
        _note(f"Kafka ({stack.kafka_source}) at {stack.bootstrap_servers}")
    if stack.s3_server is not None:
        _note(f"S3 ({stack.s3_server_name}) pid {stack.s3_server.pid} at {stack.s3_endpoint}")
    else:
        _note(f"S3 ({stack.s3_source}) at {stack.s3_endpoint}")
    _note(f"topics ({partitions} partitions): {', '.join(DEFAULT_TOPICS)}")
    _note(f"buckets: {', '.join(DEFAULT_BUCKETS)}")
    if stack.fake_credentials and stack.s3_server_name == "moto":
        _note("the local S3 takes any credentials, but boto3 needs some: export the lines above")
    elif stack.fake_credentials:
        _note("the local S3 checks signatures: use the credentials of the lines above")
    _note("ready; Ctrl-C or SIGTERM stops it")


def _print_roles(broker: SecureKafkaBroker) -> None:
    """The TLS settings all roles share, then one line per role with its SCRAM user: a
    shell takes the common lines and the line of the role it acts as. Throw-away passwords
    of a throw-away broker, printed only here, on stdout."""
    shared = ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SSL_CA_LOCATION")
    env = broker.client_env(ROLES[0])
    for name in shared:
        print(f"export {name}={shlex.quote(env[name])}")
    for role in ROLES:
        user = broker.client_env(role)
        print(
            f"# as {role} (only its ACLs): export KAFKA_SASL_USERNAME={shlex.quote(role)} "
            f"KAFKA_SASL_PASSWORD={shlex.quote(user['KAFKA_SASL_PASSWORD'])}"
        )


def run_dev(args: argparse.Namespace) -> int:
    stop = Event()
    handlers = [gevent.signal_handler(sig, stop.set) for sig in (signal.SIGINT, signal.SIGTERM)]
    stack = Stack(kafka_port=args.kafka_port, s3_port=args.s3_port, secure=args.secure)
    try:
        _note("starting the local stack")
        starter = gevent.spawn(_start, stack, args.partitions)
        gevent.wait([starter, stop], count=1)
        if stop.is_set() and not starter.ready():
            starter.kill()
            _note("interrupted during start-up; stopped")
            return EXIT_OK
        try:
            starter.get()
        except MissingToolError as exc:
            raise UsageError(str(exc)) from exc
        except StackError as exc:
            print(f"upload-stream dev: {exc}", file=sys.stderr)
            return EXIT_FAILURE

        exports = stack.env()
        for name in (KAFKA_ENV, S3_ENV, *(k for k in exports if k not in (KAFKA_ENV, S3_ENV))):
            print(f"export {name}={shlex.quote(exports[name])}")
        if isinstance(stack.broker, SecureKafkaBroker):
            _print_roles(stack.broker)
        sys.stdout.flush()
        _describe(stack, args.partitions)
        while not stop.wait(timeout=1.0):
            if stack.broker is not None and not stack.broker.running:
                _note(f"the Kafka broker exited unexpectedly\n{stack.broker.log_tail()}")
                return EXIT_FAILURE
            if stack.s3_server is not None and not stack.s3_server.running:
                _note(f"the S3 server exited unexpectedly; log: {stack.s3_server.log_path}")
                return EXIT_FAILURE
        _note("stopping")
        return EXIT_OK
    finally:
        stack.close()
        for handler in handlers:
            handler.cancel()
