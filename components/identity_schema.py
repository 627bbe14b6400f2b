"""The user-pool attribute schema: one declared contract, locked, so a change cannot slip through.

Changing a Cognito user pool's attribute schema is not an ordinary update:

* Cognito cannot modify or remove an attribute. The provider replaces the pool (a new pool id, new app
  clients) and the old pool is deleted **with every user in it**: every employee of the tenant loses the one
  credential they use in Dev, Staging and Prod.
* Adding a custom attribute is done in place, but it can never be removed again.
* The sign-in settings below (username attributes, case sensitivity) are create-only too: changing them
  replaces the pool.

So the schema lives here once (:data:`USER_POOL_SCHEMA`), and its canonical form is committed in
``user_pool_schema.lock.json``. :func:`check_schema_contract` runs whenever a ``TenantIdentity`` is built
(unit tests, the offline plan, ``pulumi preview``/``up``) and fails with :class:`UserPoolSchemaChangeError`,
explaining the consequence, when the two differ. Acknowledging the change is explicit and reviewable:
``python -m saas_platform.components.identity_schema accept`` rewrites the lock, and the lock diff goes through review.

Documentation:
    https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-settings-attributes.html
    https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AddCustomAttributes.html
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from saas_platform.components.errors import ComponentArgError

LOCK_PATH: Final = Path(__file__).resolve().parent / "user_pool_schema.lock.json"


@dataclass(frozen=True)
class CustomAttribute:
    """One ``custom:`` string attribute of every tenant user pool."""

    name: str
    mutable: bool
    min_length: int
    max_length: int
    purpose: str

    @property
    def claim(self) -> str:
        return f"custom:{self.name}"


@dataclass(frozen=True)
class UserPoolSchema:
    """Everything about a user pool that Cognito fixes at creation (changing it replaces the pool)."""

    custom_attributes: tuple[CustomAttribute, ...]
    required_standard_attributes: tuple[str, ...]
    username_attributes: tuple[str, ...]
    username_case_sensitive: bool

    def canonical(self) -> dict[str, Any]:
        """The JSON form committed in the lock (purposes are documentation and not part of it)."""
        return {
            "customAttributes": [
                {
                    "name": a.name,
                    "type": "String",
                    "mutable": a.mutable,
                    "minLength": a.min_length,
                    "maxLength": a.max_length,
                }
                for a in sorted(self.custom_attributes, key=lambda a: a.name)
            ],
            "requiredStandardAttributes": sorted(self.required_standard_attributes),
            "usernameAttributes": sorted(self.username_attributes),
            "usernameCaseSensitive": self.username_case_sensitive,
        }

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.canonical(), sort_keys=True).encode()).hexdigest()

    def attribute(self, name: str) -> CustomAttribute:
        return next(a for a in self.custom_attributes if a.name == name)


USER_POOL_SCHEMA: Final = UserPoolSchema(
    custom_attributes=(
        CustomAttribute(
            "tenantId",
            mutable=False,
            min_length=2,
            max_length=31,
            purpose="The user's tenant. Set once by the admin who creates the user; never writable by a client. "
            "Source of the custom:tenantId claim and of the TenantId principal tag (ABAC).",
        ),
        CustomAttribute(
            "tenantRole",
            mutable=True,
            min_length=1,
            max_length=16,
            purpose="admin | user (customer tenants); admin | superuser | support (system tenant). Changed by "
            "tenant admins through the IAM service, never by the user's client. Drives identity-pool role mapping.",
        ),
        CustomAttribute(
            "environments",
            mutable=True,
            min_length=3,
            max_length=32,
            purpose="Comma-separated environments the user may sign in to (dev,staging,prod). Checked by the "
            "pre-authentication and pre-token-generation triggers.",
        ),
    ),
    required_standard_attributes=("email",),
    username_attributes=("email",),
    username_case_sensitive=False,
)
"""The one user-pool schema of every tenant pool (and the system pool)."""


class UserPoolSchemaChangeError(ComponentArgError):
    """The declared user-pool schema differs from the committed lock (see module doc)."""


def _diff(locked: dict[str, Any], declared: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(changes that replace the pool, changes applied in place but irreversible)."""
    replacing: list[str] = []
    in_place: list[str] = []
    old = {a["name"]: a for a in locked.get("customAttributes", [])}
    new = {a["name"]: a for a in declared["customAttributes"]}
    for name in sorted(old.keys() - new.keys()):
        replacing.append(f"custom:{name} removed")
    for name in sorted(old.keys() & new.keys()):
        if old[name] != new[name]:
            changed = sorted(k for k in new[name] if old[name].get(k) != new[name][k])
            replacing.append(f"custom:{name} changed ({', '.join(changed)})")
    for name in sorted(new.keys() - old.keys()):
        in_place.append(f"custom:{name} added (can never be removed afterwards)")
    for key in ("requiredStandardAttributes", "usernameAttributes", "usernameCaseSensitive"):
        if locked.get(key) != declared[key]:
            replacing.append(f"{key} {locked.get(key)!r} -> {declared[key]!r}")
    return replacing, in_place


def read_lock(path: Path | None = None) -> dict[str, Any]:
    """The committed schema lock (``user_pool_schema.lock.json``), or ``{}`` when there is none yet."""
    path = LOCK_PATH if path is None else path
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return data if isinstance(data, dict) else {}


def check_schema_contract(schema: UserPoolSchema | None = None, lock_path: Path | None = None) -> None:
    """Fail unless ``schema`` (default :data:`USER_POOL_SCHEMA`) is exactly the schema committed in the lock
    (default :data:`LOCK_PATH`; both are read when called, so tests can substitute them).

    Raises:
        UserPoolSchemaChangeError: naming each difference and what it does to the deployed pools.
    """
    schema = schema or USER_POOL_SCHEMA  # module globals are looked up now, so tests can substitute them
    lock_path = lock_path or LOCK_PATH
    lock = read_lock(lock_path)
    declared = schema.canonical()
    if lock.get("schema") == declared and lock.get("sha256") == schema.fingerprint():
        return
    if not lock:
        raise UserPoolSchemaChangeError(
            f"user-pool schema lock {lock_path} is missing or empty; it records the schema deployed pools were "
            "created with. Restore it from version control, or for a brand-new project run "
            "`python -m saas_platform.components.identity_schema accept`."
        )
    replacing, in_place = _diff(lock.get("schema", {}), declared)
    parts = []
    if replacing:
        parts.append(
            "REPLACES every tenant's user pool - the provider deletes the old pool and EVERY USER IN IT (all "
            "tenants lose the credential they use in Dev, Staging and Prod; app client ids and the issuer "
            "change): " + "; ".join(replacing)
        )
    if in_place:
        parts.append("adds attributes in place, permanently: " + "; ".join(in_place))
    if not parts:
        parts.append("the lock's fingerprint does not match its schema (edited by hand?)")
    raise UserPoolSchemaChangeError(
        "the user-pool attribute schema (components/identity_schema.py USER_POOL_SCHEMA) differs from the "
        f"committed lock {lock_path.name}: {' | '.join(parts)}. If this is intended, migrate users first (see "
        "README 'TenantIdentity: changing the user-pool schema'), then acknowledge it with "
        "`python -m saas_platform.components.identity_schema accept` and commit the lock so the change is reviewed. "
        "Otherwise revert USER_POOL_SCHEMA."
    )


def write_lock(schema: UserPoolSchema | None = None, lock_path: Path | None = None) -> None:
    """Record ``schema`` as the acknowledged contract."""
    schema = schema or USER_POOL_SCHEMA
    lock_path = lock_path or LOCK_PATH
    lock_path.write_text(
        json.dumps({"sha256": schema.fingerprint(), "schema": schema.canonical()}, indent=2, sort_keys=True) + "\n"
    )


def main(argv: list[str]) -> int:
    """``python -m saas_platform.components.identity_schema [check|accept]``."""
    command = argv[0] if argv else "check"
    if command == "check":
        try:
            check_schema_contract()
        except UserPoolSchemaChangeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"user-pool schema matches {LOCK_PATH.name} ({USER_POOL_SCHEMA.fingerprint()[:12]})")
        return 0
    if command == "accept":
        try:
            check_schema_contract()
        except UserPoolSchemaChangeError as exc:
            print(f"acknowledging: {exc}", file=sys.stderr)
        write_lock()
        print(f"wrote {LOCK_PATH} ({USER_POOL_SCHEMA.fingerprint()[:12]}); commit it with the schema change")
        return 0
    print("usage: python -m saas_platform.components.identity_schema [check|accept]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
