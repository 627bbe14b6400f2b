"""The CRM's Cedar policies decide as the access model says: evaluated with cedarpy, group by group."""

from __future__ import annotations

import cedarpy
import pytest

import crm_permissions

POOL = "eu-west-1_TestPool1"
POLICIES = "\n".join(p.replace("{{userPoolId}}", POOL) for p in crm_permissions.POLICIES.values())
RESOURCE = {
    "ReadClient": "Client",
    "WriteClient": "Client",
    "ReadAccount": "Account",
    "WriteAccount": "Account",
    "ReadUser": "CrmUser",
    "WriteUser": "CrmUser",
    "CreateAdmin": "Administrator",
    "DeleteAdmin": "Administrator",
    "ReadSystemLog": "SystemLog",
    "GenerateText": "LlmService",
    "SendEmail": "LlmService",
}
# group -> actions it may take (spelled out from the access model, not read from the policies)
ALLOWED = {
    "agent": {"ReadClient", "WriteClient", "ReadAccount", "WriteAccount", "GenerateText", "SendEmail"},
    "administrator": {"ReadUser", "WriteUser", "ReadSystemLog"},
    "root-administrator": {"CreateAdmin", "DeleteAdmin", "ReadSystemLog"},
    "no-group": set(),
}


def user(uid: str, group: str) -> list[dict]:
    entities: list[dict] = [
        {
            "uid": {"type": "Crm::User", "id": f"{POOL}|{uid}"},
            "attrs": {},
            "parents": [] if group == "no-group" else [{"type": "Crm::UserGroup", "id": f"{POOL}|{group}"}],
        }
    ]
    if group != "no-group":
        entities.append({"uid": {"type": "Crm::UserGroup", "id": f"{POOL}|{group}"}, "attrs": {}, "parents": []})
    return entities


def decide(group: str, action: str, resource: dict, extra: list[dict] | None = None) -> str:
    request = {
        "principal": f'Crm::User::"{POOL}|u1"',
        "action": f'Crm::Action::"{action}"',
        "resource": f'{resource["type"]}::"{resource["id"]}"',
        "context": {},
    }
    entities = [*user("u1", group), *(extra or [])]
    result = cedarpy.is_authorized(request, POLICIES, entities, schema=crm_permissions.SCHEMA)
    return "ALLOW" if result.allowed else "DENY"


def test_policies_validate_against_the_schema() -> None:
    result = cedarpy.validate_policies(POLICIES, crm_permissions.SCHEMA)
    assert result.validation_passed, [str(e) for e in result.errors]


@pytest.mark.parametrize("group", sorted(ALLOWED))
@pytest.mark.parametrize("action", sorted(RESOURCE))
def test_each_group_may_do_exactly_its_actions(group: str, action: str) -> None:
    resource = {"type": f"Crm::{RESOURCE[action]}", "id": "r1"}
    extra = [{"uid": {"type": f"Crm::{RESOURCE[action]}", "id": "r1"}, "attrs": {}, "parents": []}]
    expected = "ALLOW" if action in ALLOWED[group] else "DENY"
    assert decide(group, action, resource, extra) == expected


@pytest.mark.parametrize("group", sorted(ALLOWED))
def test_transaction_logs_only_of_own_clients_and_only_for_agents(group: str) -> None:
    def log(assigned_to: str) -> list[dict]:
        return [
            {
                "uid": {"type": "Crm::TransactionLog", "id": "t1"},
                "attrs": {"assignedAgent": {"__entity": {"type": "Crm::User", "id": f"{POOL}|{assigned_to}"}}},
                "parents": [],
            },
            {"uid": {"type": "Crm::User", "id": f"{POOL}|u2"}, "attrs": {}, "parents": []},
        ]

    resource = {"type": "Crm::TransactionLog", "id": "t1"}
    own = decide(group, "ReadTransactionLog", resource, log("u1"))
    other = decide(group, "ReadTransactionLog", resource, log("u2"))
    assert own == ("ALLOW" if group == "agent" else "DENY")
    assert other == "DENY"


def test_the_llm_actions_map_to_cedar_actions() -> None:
    assert crm_permissions.LLM_ACTIONS == {"generate": "GenerateText", "send": "SendEmail"}
