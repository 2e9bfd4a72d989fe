"""SIGTERM / SIGINT end the run loop: the first asks for a drain, a second one exits."""

from __future__ import annotations

import logging
import signal
import sys

import gevent
from gevent.event import Event

log = logging.getLogger(__name__)


def install(stop: Event) -> None:
    def handle(signum: int) -> None:
        if stop.is_set():
            log.warning("second signal: exiting without draining")
            sys.exit(1)
        log.info("signal %d: draining and stopping", signum)
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, handle, signum)
