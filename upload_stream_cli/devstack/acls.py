"""The least-privilege ACLs of each role, as the secured local broker grants them.

The README's "Kafka security" table and docs/runbook.md list the same rules; the secured
integration tier runs every command as a principal holding exactly its role's rules, and
the negative tests drop one rule at a time.

Kafka 3.0 and later let a principal with Write on a topic open an idempotent producer, so
no role needs the cluster's IdempotentWrite. Read implies Describe, and Write implies
Describe, on topics, groups and transactional ids alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from confluent_kafka.admin._acl import AclBinding, AclOperation, AclPermissionType
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType

Kind = Literal["topic", "group", "transactional-id"]
Operation = Literal["read", "write"]

_RESOURCE = {
    "topic": ResourceType.TOPIC,
    "group": ResourceType.GROUP,
    "transactional-id": ResourceType.TRANSACTIONAL_ID,
}
_OPERATION = {"read": AclOperation.READ, "write": AclOperation.WRITE}

ROLES: tuple[str, ...] = ("consumer", "producer", "ops")


@dataclass(frozen=True)
class Rule:
    """Allow `operation` on the resource `kind` named `name` (or every name starting with
    it when `prefixed`)."""

    kind: Kind
    name: str
    operation: Operation
    prefixed: bool = False

    def binding(self, principal: str) -> AclBinding:
        return AclBinding(
            _RESOURCE[self.kind],
            self.name,
            ResourcePatternType.PREFIXED if self.prefixed else ResourcePatternType.LITERAL,
            f"User:{principal}",
            "*",
            _OPERATION[self.operation],
            AclPermissionType.ALLOW,
        )

    def kafka_acls(self, principal: str) -> str:
        """The same rule as Kafka's `kafka-acls.sh` arguments."""
        pattern = " --resource-pattern-type prefixed" if self.prefixed else ""
        return (
            f"--add --allow-principal User:{principal} --operation "
            f"{self.operation.capitalize()} --{self.kind} {self.name}{pattern}"
        )

    def __str__(self) -> str:
        star = "*" if self.prefixed else ""
        return f"{self.operation.capitalize()} on {self.kind} {self.name}{star}"


@dataclass(frozen=True)
class Names:
    """The topic and group names the rules are written for (the settings' defaults)."""

    requests: str = "uploads.requests"
    results: str = "uploads.results"
    dlq: str = "uploads.requests.dlq"
    group: str = "upload-stream"


def role_rules(role: str, names: Names | None = None) -> tuple[Rule, ...]:
    """Every rule `role` needs, and nothing more."""
    n = names or Names()
    rules: dict[str, tuple[Rule, ...]] = {
        # consume: read requests in its group, write results and dead letters in
        # transactions whose ids start with the group id (default {group}-{host}-{pid}; a
        # custom UPLOAD_STREAM_TRANSACTIONAL_ID must start with "{group}-" too).
        "consumer": (
            Rule("topic", n.requests, "read"),
            Rule("group", n.group, "read"),
            Rule("topic", n.results, "write"),
            Rule("topic", n.dlq, "write"),
            Rule("transactional-id", f"{n.group}-", "write", prefixed=True),
        ),
        # submit (idempotent producer) and submit --wait / results (reading by assignment).
        "producer": (
            Rule("topic", n.requests, "write"),
            Rule("topic", n.results, "read"),
        ),
        # dlq, results, replay: read by assignment; replay reads the requests to find
        # lineages and publishes new requests.
        "ops": (
            Rule("topic", n.requests, "read"),
            Rule("topic", n.requests, "write"),
            Rule("topic", n.results, "read"),
            Rule("topic", n.dlq, "read"),
        ),
    }
    return rules[role]


def bindings(principal: str, rules: Iterable[Rule]) -> list[AclBinding]:
    return [rule.binding(principal) for rule in rules]
