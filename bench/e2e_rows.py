"""The rows `python -m bench.e2e_bench` runs, and `--rows` to choose others.

A row is `CONSUMERS:GUARANTEE[:NAME=VALUE,...]`: `1:exactly_once`,
`2:exactly_once:checkpoint_interval_s=0.1`. A NAME is a consumer setting, given to the
row's consumers as its `UPLOAD_STREAM_*` variable, or a `KAFKA_*` variable as it is
(a librdkafka setting, see kafka_config/connection.py). Rows run in the order given, so
an A/B comparison alternates them (A B B A) to cancel the machine's drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from consumer.settings import ConsumerSettings, ProcessingGuarantee
from upload_stream_cli.settings_table import variable

FORMAT = "CONSUMERS:GUARANTEE[:NAME=VALUE,...]"
_PREFIX = variable(ConsumerSettings, "")  # UPLOAD_STREAM_


@dataclass(frozen=True)
class RowSpec:
    consumers: int
    guarantee: str
    env: dict[str, str] = field(default_factory=dict)  # for the row's consumers only

    @property
    def text(self) -> str:
        """The row as `--rows` takes it (parse_row's inverse)."""
        settings = ",".join(f"{setting_name(name)}={value}" for name, value in self.env.items())
        return f"{self.consumers}:{self.guarantee}" + (f":{settings}" if settings else "")


DEFAULT_ROWS = (
    RowSpec(1, "exactly_once"),
    RowSpec(2, "exactly_once"),
    RowSpec(1, "at_least_once"),
    RowSpec(2, "at_least_once"),
    # The interval's trade (README, "What the knobs trade").
    RowSpec(1, "exactly_once", {"UPLOAD_STREAM_CHECKPOINT_INTERVAL_S": "0.1"}),
)


def parse_row(text: str) -> RowSpec:
    """`2:exactly_once:checkpoint_interval_s=0.1` -> its RowSpec; ValueError saying what
    is wrong otherwise. Values are checked by the consumer itself, which refuses to start
    (the benchmark then prints its log's tail)."""
    consumers, _, rest = text.partition(":")
    guarantee, _, settings = rest.partition(":")
    if not consumers.isdigit() or int(consumers) < 1:
        raise ValueError(f"{text!r}: CONSUMERS must be a whole number from 1 ({FORMAT})")
    guarantees = [g.value for g in ProcessingGuarantee]
    if guarantee not in guarantees:
        raise ValueError(f"{text!r}: GUARANTEE must be one of {', '.join(guarantees)}")
    env: dict[str, str] = {}
    for item in settings.split(",") if settings else []:
        name, equals, value = item.partition("=")
        if not equals or not value:
            raise ValueError(f"{text!r}: {item!r} is not NAME=VALUE ({FORMAT})")
        env[_env_variable(text, name)] = value
    return RowSpec(int(consumers), guarantee, env)


def _env_variable(text: str, name: str) -> str:
    if name.startswith("KAFKA_"):
        return name
    if name == "processing_guarantee":
        raise ValueError(f"{text!r}: the guarantee is the row's second part, not a setting")
    if name not in ConsumerSettings.model_fields:
        raise ValueError(
            f"{text!r}: {name!r} is neither a consumer setting (ConsumerSettings, e.g. "
            "checkpoint_interval_s) nor a KAFKA_* variable"
        )
    return variable(ConsumerSettings, name)


def setting_name(env_variable: str) -> str:
    """`UPLOAD_STREAM_CHECKPOINT_INTERVAL_S` -> `checkpoint_interval_s`; `KAFKA_*` as it is."""
    if env_variable.startswith(_PREFIX):
        return env_variable.removeprefix(_PREFIX).lower()
    return env_variable
