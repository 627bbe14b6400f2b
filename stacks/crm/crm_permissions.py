"""The CRM's access model as Cedar: the schema and one policy per stakeholder group.

| group | may |
| --- | --- |
| ``agent`` (CRM user) | read/write clients and accounts; read the transaction logs of clients assigned to them; use the LLM service (generate text, send email) |
| ``administrator`` | read/write CRM users (agents); read system logs |
| ``root-administrator`` | create and delete administrators; read system logs |

Everything else is denied (Cedar denies by default). ``{{userPoolId}}`` becomes the pool's id, so group entities
are ``Crm::UserGroup::"<poolId>|<group>"`` as Verified Permissions maps ``cognito:groups``.
"""

from __future__ import annotations

from typing import Any, Final

NAMESPACE: Final = "Crm"
GROUPS: Final = ("agent", "administrator", "root-administrator")


def _action(resource: str) -> dict[str, Any]:
    return {
        "appliesTo": {
            "principalTypes": ["User"],
            "resourceTypes": [resource],
            "context": {"type": "Record", "attributes": {}},
        }
    }


SCHEMA: Final[dict[str, Any]] = {
    NAMESPACE: {
        "entityTypes": {
            "User": {"memberOfTypes": ["UserGroup"], "shape": {"type": "Record", "attributes": {}}},
            "UserGroup": {"shape": {"type": "Record", "attributes": {}}},
            "Client": {"shape": {"type": "Record", "attributes": {}}},
            "Account": {"shape": {"type": "Record", "attributes": {}}},
            "TransactionLog": {
                "shape": {
                    "type": "Record",
                    "attributes": {"assignedAgent": {"type": "Entity", "name": "User", "required": True}},
                }
            },
            "CrmUser": {"shape": {"type": "Record", "attributes": {}}},
            "Administrator": {"shape": {"type": "Record", "attributes": {}}},
            "SystemLog": {"shape": {"type": "Record", "attributes": {}}},
            "LlmService": {"shape": {"type": "Record", "attributes": {}}},
        },
        "actions": {
            "ReadClient": _action("Client"),
            "WriteClient": _action("Client"),
            "ReadAccount": _action("Account"),
            "WriteAccount": _action("Account"),
            "ReadTransactionLog": _action("TransactionLog"),
            "ReadUser": _action("CrmUser"),
            "WriteUser": _action("CrmUser"),
            "CreateAdmin": _action("Administrator"),
            "DeleteAdmin": _action("Administrator"),
            "ReadSystemLog": _action("SystemLog"),
            "GenerateText": _action("LlmService"),
            "SendEmail": _action("LlmService"),
        },
    }
}


def _group(name: str) -> str:
    return f'Crm::UserGroup::"{{{{userPoolId}}}}|{name}"'


POLICIES: Final[dict[str, str]] = {
    "agent": f"""permit (
    principal in {_group("agent")},
    action in [Crm::Action::"ReadClient", Crm::Action::"WriteClient", Crm::Action::"ReadAccount",
               Crm::Action::"WriteAccount", Crm::Action::"GenerateText", Crm::Action::"SendEmail"],
    resource
);""",
    "agent-own-transaction-logs": f"""permit (
    principal in {_group("agent")},
    action == Crm::Action::"ReadTransactionLog",
    resource
) when {{ resource.assignedAgent == principal }};""",
    "administrator": f"""permit (
    principal in {_group("administrator")},
    action in [Crm::Action::"ReadUser", Crm::Action::"WriteUser", Crm::Action::"ReadSystemLog"],
    resource
);""",
    "root-administrator": f"""permit (
    principal in {_group("root-administrator")},
    action in [Crm::Action::"CreateAdmin", Crm::Action::"DeleteAdmin", Crm::Action::"ReadSystemLog"],
    resource
);""",
}

LLM_ACTIONS: Final = {"generate": "GenerateText", "send": "SendEmail"}
"""Request ``action`` of the LLM service -> the Cedar action it needs."""
