"""The Helm chart, rendered by the real helm (no cluster runs here): the properties the
README promises of a deployment, checked on the manifests for the default values and the
secured production example."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest
import yaml

from consumer.kafka_io import consumer_config
from consumer.settings import ConsumerSettings
from kafka_config.connection import KafkaConnection
from tests.deploy_tools import CHART, PRODUCTION, ROOT, RULES, run, tool

Manifest = dict[str, Any]


def _render_raw(*args: str) -> tuple[int, str, str]:
    done = run(tool("helm"), "template", "upload-stream", str(CHART), *args)
    return done.returncode, done.stdout, done.stderr


@cache
def _render_cached(args: tuple[str, ...]) -> list[Manifest]:
    code, out, err = _render_raw(*args)
    assert code == 0, err
    return [doc for doc in yaml.safe_load_all(out) if doc]


def render(*args: str) -> list[Manifest]:
    return _render_cached(args)


def production(*args: str) -> list[Manifest]:
    return render("-f", str(PRODUCTION), *args)


def one(docs: list[Manifest], kind: str) -> Manifest:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"{kind}: {len(found)}"
    return found[0]


def consumer(docs: list[Manifest]) -> Manifest:
    pod = one(docs, "StatefulSet")["spec"]["template"]["spec"]
    [container] = [c for c in pod["containers"] if c["name"] == "consumer"]
    return container


def env(docs: list[Manifest]) -> dict[str, Any]:
    """Variable name -> its value, or its `valueFrom`."""
    entries = consumer(docs)["env"]
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names)), "a variable is set twice"
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in entries}


def render_fails(*args: str) -> str:
    code, out, err = _render_raw(*args)
    assert code != 0, out
    return err


@pytest.mark.parametrize("values", ["default", "production"])
def test_helm_lint_passes(values: str, capsys: pytest.CaptureFixture[str]) -> None:
    extra = ["-f", str(PRODUCTION)] if values == "production" else []
    done = run(tool("helm"), "lint", "--strict", str(CHART), *extra)
    with capsys.disabled():
        print(f"\n$ helm lint --strict {CHART.relative_to(ROOT)} {' '.join(extra)}")
        print(done.stdout.strip())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout


def test_helm_template_kinds(capsys: pytest.CaptureFixture[str]) -> None:
    default = sorted(d["kind"] for d in render())
    prod = sorted(d["kind"] for d in production())
    with capsys.disabled():
        print(f"\n$ helm template: default values render {default}")
        print(f"$ helm template -f {PRODUCTION.relative_to(ROOT)}: {prod}")
    assert default == ["PodDisruptionBudget", "Service", "ServiceAccount", "StatefulSet"]
    assert prod == [
        "PodDisruptionBudget",
        "PrometheusRule",
        "ScaledObject",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
        "StatefulSet",
        "TriggerAuthentication",
    ]


@pytest.mark.parametrize("docs", [render, production], ids=["default", "production"])
def test_transactional_id_is_the_pod_name(docs: Any) -> None:
    assert env(docs())["UPLOAD_STREAM_TRANSACTIONAL_ID"] == {
        "fieldRef": {"fieldPath": "metadata.name"}
    }
    assert one(docs(), "StatefulSet")["spec"]["podManagementPolicy"] == "Parallel"


@pytest.mark.parametrize("docs", [render, production], ids=["default", "production"])
def test_grace_period_covers_the_drain_and_the_last_commit(docs: Any) -> None:
    manifests = docs()
    pod = one(manifests, "StatefulSet")["spec"]["template"]["spec"]
    variables = env(manifests)
    drain = float(variables["UPLOAD_STREAM_DRAIN_TIMEOUT_S"])
    commit = float(variables["UPLOAD_STREAM_TXN_CALL_TIMEOUT_S"])
    grace = pod["terminationGracePeriodSeconds"]
    assert grace > drain + commit
    command = consumer(manifests)["lifecycle"]["preStop"]["exec"]["command"]
    assert command[:2] == ["/bin/sh", "-c"]
    match = re.fullmatch(r"kill -TERM 1; sleep (\d+)", command[2])
    assert match, command
    assert drain + commit < int(match.group(1)) < grace


def test_the_transactional_id_cannot_be_overridden() -> None:
    err = render_fails("--set-string", "env.UPLOAD_STREAM_TRANSACTIONAL_ID=fixed")
    assert "UPLOAD_STREAM_TRANSACTIONAL_ID is each pod's name" in err


def test_a_grace_period_shorter_than_the_drain_is_refused() -> None:
    err = render_fails("--set", "consumer.drainTimeoutSeconds=120")
    assert "terminationGracePeriodSeconds (60) must exceed" in err
    # Also when the drain timeout comes through the generic map.
    err = render_fails("--set-string", "env.UPLOAD_STREAM_DRAIN_TIMEOUT_S=90.5")
    assert "must exceed" in err


def test_probes_use_readyz_and_healthz_on_the_metrics_port() -> None:
    container = consumer(render())
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    [port] = container["ports"]
    assert port["name"] == "metrics"
    assert str(port["containerPort"]) == env(render())["UPLOAD_STREAM_METRICS_PORT"]
    assert "metrics.port must be set" in render_fails("--set", "metrics.port=0")


def _mebibytes(quantity: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * (1024 if unit == "Gi" else 1)


def test_resources_cover_the_measured_rss_and_the_worst_case_parts() -> None:
    docs = render()
    resources = consumer(docs)["resources"]
    # README "Measured": consumer peak RSS 80.6 MiB under load; a multipart file holds one
    # part (8 MiB by default) in memory, up to UPLOAD_STREAM_MAX_CONCURRENCY files at once.
    measured_peak = 80.6
    assert _mebibytes(resources["requests"]["memory"]) >= 2 * measured_peak
    concurrency = int(env(docs)["UPLOAD_STREAM_MAX_CONCURRENCY"])
    assert _mebibytes(resources["limits"]["memory"]) >= measured_peak + concurrency * 8
    assert resources["requests"]["cpu"]
    assert "cpu" not in resources["limits"]


def test_credentials_come_from_secrets_by_reference_only() -> None:
    docs = production()
    assert not [d for d in docs if d["kind"] == "Secret"]
    variables = env(docs)
    assert variables["KAFKA_SASL_PASSWORD"] == {
        "secretKeyRef": {"name": "upload-stream-kafka", "key": "kafka-sasl-password"}
    }
    assert variables["KAFKA_SSL_CA_LOCATION"] == "/etc/upload-stream/kafka-ca/ca.crt"
    pod = one(docs, "StatefulSet")["spec"]["template"]["spec"]
    assert {
        "name": "kafka-ca",
        "secret": {
            "secretName": "upload-stream-kafka",
            "items": [{"key": "ca.crt", "path": "ca.crt"}],
        },
    } in pod["volumes"]


def test_static_s3_keys_come_from_a_secret() -> None:
    variables = env(render("--set", "s3.credentialsSecret.name=minio-keys"))
    assert variables["AWS_ACCESS_KEY_ID"] == {
        "secretKeyRef": {"name": "minio-keys", "key": "aws-access-key-id"}
    }
    assert variables["AWS_SECRET_ACCESS_KEY"] == {
        "secretKeyRef": {"name": "minio-keys", "key": "aws-secret-access-key"}
    }


@pytest.mark.parametrize(
    "name", ["KAFKA_SASL_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]
)
def test_a_secret_given_as_a_plain_value_is_refused(name: str) -> None:
    err = render_fails("--set-string", f"env.{name}=hunter2-canary")
    assert f"env.{name} looks like a secret" in err
    assert "hunter2-canary" not in err


def test_sasl_without_a_password_secret_is_refused() -> None:
    err = render_fails("--set", "kafka.sasl.mechanism=SCRAM-SHA-512")
    assert "kafka.sasl.passwordSecret.name" in err


def test_irsa_annotation_on_the_service_account() -> None:
    docs = production()
    account = one(docs, "ServiceAccount")
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/kyc-upload-stream"
    }
    pod = one(docs, "StatefulSet")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_production_example_is_secured() -> None:
    variables = env(production())
    assert variables["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert variables["UPLOAD_STREAM_SSE"] == "aws:kms"
    assert variables["UPLOAD_STREAM_SSE_KMS_KEY_ID"].startswith("arn:aws:kms:")
    assert variables["UPLOAD_STREAM_CLAMD_ADDRESS"] == "tcp://127.0.0.1:3310"
    pod = one(production(), "StatefulSet")["spec"]["template"]["spec"]
    [clamd] = pod["initContainers"]
    # A native sidecar: up before the consumer, stopped after its drain.
    assert clamd["restartPolicy"] == "Always"
    assert clamd["ports"][0]["containerPort"] == 3310


def test_pod_disruption_budget_selects_the_pods() -> None:
    docs = render()
    pdb = one(docs, "PodDisruptionBudget")["spec"]
    labels = one(docs, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
    assert pdb["maxUnavailable"] == 1
    assert pdb["selector"]["matchLabels"].items() <= labels.items()


def test_service_monitor_is_off_by_default_and_scrapes_the_metrics_port() -> None:
    assert "ServiceMonitor" not in {d["kind"] for d in render()}
    docs = production()
    monitor = one(docs, "ServiceMonitor")["spec"]
    service = one(docs, "Service")
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["endpoints"][0]["port"] == "metrics"
    assert service["spec"]["ports"][0]["name"] == "metrics"
    assert service["spec"]["clusterIP"] == "None"
    # Consumers that are not ready are scraped too: UploadStreamNoConsumerReady needs them.
    assert service["spec"]["publishNotReadyAddresses"] is True


def test_keda_scales_the_statefulset_on_the_groups_lag() -> None:
    docs = production()
    scaled = one(docs, "ScaledObject")["spec"]
    variables = env(docs)
    partitions = yaml.safe_load(PRODUCTION.read_text())["partitions"]
    assert scaled["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "name": one(docs, "StatefulSet")["metadata"]["name"],
    }
    assert "replicas" not in one(docs, "StatefulSet")["spec"]  # KEDA owns the count
    assert scaled["minReplicaCount"] == 0
    assert scaled["maxReplicaCount"] == partitions
    [trigger] = scaled["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "kafka"
    assert meta["consumerGroup"] == variables["UPLOAD_STREAM_GROUP_ID"]
    assert meta["topic"] == variables["UPLOAD_STREAM_REQUESTS_TOPIC"]
    assert meta["bootstrapServers"] == variables["KAFKA_BOOTSTRAP_SERVERS"]
    assert meta["offsetResetPolicy"] == variables["UPLOAD_STREAM_AUTO_OFFSET_RESET"]
    assert meta["excludePersistentLag"] == "true"
    assert meta["allowIdleConsumers"] == "false"
    assert meta["limitToPartitionsWithLag"] == "true"
    assert meta["scaleToZeroOnInvalidOffset"] == "false"
    # Commit markers leave a lag of 1 per partition: activation must be above that.
    assert int(meta["activationLagThreshold"]) >= partitions
    assert int(meta["lagThreshold"]) > 0
    assert (meta["sasl"], meta["tls"]) == ("scram_sha512", "enable")
    auth = one(docs, "TriggerAuthentication")
    assert trigger["authenticationRef"] == {"name": auth["metadata"]["name"]}
    refs = {r["parameter"]: (r["name"], r["key"]) for r in auth["spec"]["secretTargetRef"]}
    assert refs == {
        "username": ("upload-stream-kafka", "kafka-sasl-username"),
        "password": ("upload-stream-kafka", "kafka-sasl-password"),
        "ca": ("upload-stream-kafka", "ca.crt"),
    }
    behavior = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
    assert behavior["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 120}]


def test_replicas_beyond_the_partitions_are_refused() -> None:
    err = render_fails("-f", str(PRODUCTION), "--set", "keda.maxReplicaCount=13")
    assert "keda.maxReplicaCount (13) is above partitions (12)" in err
    err = render_fails("--set", "replicaCount=13")
    assert "replicaCount (13) is above partitions (12)" in err
    scaled = one(production("--set", "keda.maxReplicaCount=4"), "ScaledObject")
    assert scaled["spec"]["maxReplicaCount"] == 4


def test_the_consumer_uses_the_cooperative_assignor() -> None:
    # Scale-down rebalances stop only the moved partitions with cooperative-sticky.
    config = consumer_config(KafkaConnection(), ConsumerSettings())
    assert config["partition.assignment.strategy"] == "cooperative-sticky"


def _readme_variables() -> dict[str, str]:
    """Variable -> a value to set: its README default, or a marker where it has none."""
    section = (ROOT / "README.md").read_text().split("## Configuration", 1)[1]
    rows = re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \| ([^|]*) \|", section, re.MULTILINE)
    assert len(rows) == len(re.findall(r"^\| `[A-Z]", section, re.MULTILINE))
    values = {}
    for name, column in rows:
        default = column.strip().strip("`")
        plain = re.fullmatch(r"[\w.:/~-]+", default) and default not in ("none", "empty")
        values[name] = default if plain else f"value-of-{name}"
    return values


def test_every_readme_variable_can_be_set_through_values() -> None:
    variables = _readme_variables()
    assert len(variables) > 40
    secret = re.compile("PASSWORD|SECRET|TOKEN|PRIVATE|KEY_PEM")
    args: list[str] = []
    for name in variables:
        if name == "UPLOAD_STREAM_TRANSACTIONAL_ID":
            continue  # always the pod's name
        if secret.search(name):
            args += ["--set", f"secretEnv.{name}.name=s", "--set", f"secretEnv.{name}.key=k"]
        else:
            value = variables[name].replace(",", "\\,")
            args += ["--set-string", f"env.{name}={value}"]
    rendered = env(render(*args))
    for name in variables:
        if name == "UPLOAD_STREAM_TRANSACTIONAL_ID":
            assert rendered[name] == {"fieldRef": {"fieldPath": "metadata.name"}}
        elif secret.search(name):
            assert rendered[name] == {"secretKeyRef": {"name": "s", "key": "k"}}, name
        else:
            assert rendered[name] == variables[name], name


def test_typed_values_reach_their_variables() -> None:
    rendered = env(
        render(
            "--set", "kafka.bootstrapServers=b1:9092\\,b2:9092",
            "--set", "topics.allowedReplyTopics={a.results,b.results}",
            "--set", "s3.allowedBuckets={one,two}",
            "--set", "consumer.processingGuarantee=at_least_once",
            "--set", "s3.endpointUrl=http://minio:9000",
        )
    )  # fmt: skip
    assert rendered["KAFKA_BOOTSTRAP_SERVERS"] == "b1:9092,b2:9092"
    assert rendered["UPLOAD_STREAM_ALLOWED_REPLY_TOPICS"] == "a.results,b.results"
    assert rendered["UPLOAD_STREAM_ALLOWED_BUCKETS"] == "one,two"
    assert rendered["UPLOAD_STREAM_PROCESSING_GUARANTEE"] == "at_least_once"
    assert rendered["AWS_ENDPOINT_URL"] == "http://minio:9000"


def test_default_values_validate_as_consumer_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env(render()).items():
        if isinstance(value, str):
            monkeypatch.setenv(name, value)
    settings = ConsumerSettings()
    assert settings.drain_timeout_s == 30
    assert KafkaConnection().bootstrap_servers == "kafka:9092"


def test_prometheus_rule_is_the_tested_rule_file() -> None:
    rule = one(
        production("--set", "prometheusRule.runbookBaseUrl=https://x.test/r/"), "PrometheusRule"
    )
    source = yaml.safe_load(RULES.read_text())
    for group in source["groups"]:
        for r in group["rules"]:
            if "annotations" in r:
                r["annotations"]["runbook_url"] = (
                    "https://x.test/r/" + r["annotations"]["runbook_url"]
                )
    assert rule["spec"] == source


def test_values_of_the_wrong_shape_are_refused_by_the_schema() -> None:
    err = render_fails("--set", "consumer.processingGuarantee=exactly-once")
    assert "/consumer/processingGuarantee" in err
    err = render_fails("--set", "s3.stagingAllowlist={/srv/staging}")
    assert "/s3/stagingAllowlist/0" in err
    err = render_fails("--set", "partitions=0")
    assert "/partitions" in err
