"""The exception family of the library: one small set so callers and tests can match exact text."""

from __future__ import annotations

import pulumi


class ComponentArgError(ValueError):
    """A component got a bad argument. Raised before any child resource is registered."""


class StackConfigError(pulumi.RunError):
    """Stack configuration is invalid. Raised before any resource is registered.

    It subclasses :class:`pulumi.RunError`, so the Pulumi language host prints the message alone, without a
    Python traceback (the same treatment as Pulumi's own ``ConfigMissingError``).
    """

    def __init__(self, stack_file: str, problems: list[tuple[str, str]]) -> None:
        self.stack_file = stack_file
        self.problems = problems
        details = "; ".join(f"{key}: {msg}" for key, msg in problems)
        super().__init__(
            f"{stack_file} is invalid ({len(problems)} problem{'s' if len(problems) != 1 else ''}): {details}"
        )

    @property
    def keys(self) -> list[str]:
        """The config keys named in the message, in order (e.g. ``saas:tenants[1].id``)."""
        return [key for key, _ in self.problems]
