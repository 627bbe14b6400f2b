"""Entry point of the ``saas-guardrails`` pack, and a small helper for consumer projects.

``pulumi preview --policy-pack DIR`` runs this file; it is the only place that constructs ``PolicyPack``,
whose constructor starts the analyzer's gRPC server and blocks, so nothing else may import this module.

Run by hand, it answers where the pack is (docs/consumer-guide.md):

* ``python -m saas_platform.policies --path`` prints the installed pack folder (``PulumiPolicy.yaml`` and this
  file). The pack runs with the ``python`` on ``PATH``: activate the virtualenv the library is installed in.
* ``python -m saas_platform.policies --write-pack DIR`` writes a two-file pack folder whose
  ``PulumiPolicy.yaml`` names this interpreter's virtualenv, for running the pack without activating it.
"""

import sys
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parent


def _write_pack(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    (target / "PulumiPolicy.yaml").write_text(
        "description: saas-guardrails from saas-platform-components (written by python -m saas_platform.policies)\n"
        "runtime:\n  name: python\n  options:\n    toolchain: pip\n"
        f"    virtualenv: {Path(sys.prefix).resolve()}\n"
    )
    (target / "__main__.py").write_text(
        "import saas_platform.policies.__main__  # noqa: F401  builds and serves the saas-guardrails pack\n"
    )


def _helper(argv: list[str]) -> bool:
    """Handle ``--path`` / ``--write-pack DIR``; ``False`` when the CLI runs the pack (any other arguments)."""
    if argv == ["--path"]:
        print(PACK_DIR)
        return True
    if len(argv) == 2 and argv[0] == "--write-pack":
        _write_pack(Path(argv[1]))
        print(Path(argv[1]).resolve())
        return True
    return False


if __name__ == "__main__" and _helper(sys.argv[1:]):
    sys.exit(0)

from pulumi_policy import PolicyPack  # noqa: E402  (after the helper: it needs no pulumi-policy)

from saas_platform.policies.pack import DEFAULT_ENFORCEMENT, INITIAL_CONFIG, PACK_NAME, POLICIES  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=DEFAULT_ENFORCEMENT,
    initial_config=INITIAL_CONFIG,
    description="Tenant-isolation and secure-default guardrails for the saas platform components.",
)
