"""The broker a benchmark talks to: `KAFKA_BOOTSTRAP_SERVERS`, else a local one it starts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def kafka() -> Iterator[str]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        return
    from upload_stream_cli.devstack.kafka import KafkaBroker

    with KafkaBroker() as broker:
        yield broker.bootstrap_servers
