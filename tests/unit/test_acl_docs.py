"""The README's and the runbook's ACLs are the ones the secured tier grants and tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from upload_stream_cli.devstack.acls import ROLES, role_rules

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("document", ["README.md", "docs/runbook.md"])
def test_every_rule_of_every_role_is_documented_as_a_kafka_acls_command(document: str) -> None:
    text = (ROOT / document).read_text()
    missing = [
        rule.kafka_acls(role)
        for role in ROLES
        for rule in role_rules(role)
        if f"kafka-acls.sh {rule.kafka_acls(role)}\n" not in text
    ]
    assert missing == []


def test_the_kafka_acls_command_says_prefixed_for_transactional_ids() -> None:
    (txn,) = [r for r in role_rules("consumer") if r.kind == "transactional-id"]
    assert txn.kafka_acls("consumer") == (
        "--add --allow-principal User:consumer --operation Write --transactional-id "
        "upload-stream- --resource-pattern-type prefixed"
    )
