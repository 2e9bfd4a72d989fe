"""JSON log lines carry request context; settings never print the SASL password."""

from __future__ import annotations

import json
import logging

from pydantic import SecretStr

from consumer.logs import JsonFormatter, TextFormatter
from kafka_config.connection import KafkaConnection


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "consumer.dispatch", logging.INFO, __file__, 1, "request %s", ("succeeded",), None
    )
    record.__dict__.update(extra)
    return record


def test_json_line_has_message_and_context() -> None:
    line = json.loads(JsonFormatter().format(_record(request_id="r-1", partition=2)))
    assert {k: line[k] for k in ("level", "logger", "msg", "request_id", "partition")} == {
        "level": "INFO",
        "logger": "consumer.dispatch",
        "msg": "request succeeded",
        "request_id": "r-1",
        "partition": 2,
    }
    assert "user_id" not in line


def test_text_line_appends_context() -> None:
    assert (
        TextFormatter()
        .format(_record(request_id="r-1"))
        .endswith("INFO consumer.dispatch: request succeeded request_id=r-1")
    )


def test_settings_mask_the_sasl_password() -> None:
    connection = KafkaConnection(sasl_username="svc", sasl_password=SecretStr("hunter2"))
    assert "hunter2" not in repr(connection)
    assert "hunter2" not in str(connection.model_dump())
    assert connection.librdkafka()["sasl.password"] == "hunter2"
