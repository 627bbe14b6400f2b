"""The AWS region and account a component deploys into, from its arguments or the provider.

Components take ``region``/``account_id`` as optional ``pulumi.Input[str]`` arguments (so a value exported by
another stack can be passed). ``None`` means "the provider's": the ``aws.get_region`` /
``aws.get_caller_identity`` invokes through the component's provider (for the region, ``aws:region`` from the
stack config if the invoke has no answer). An invoke answering without
a value (plain test mocks often return ``{}``) fails with a message that says which value is missing and how
to provide it, not with a ``TypeError`` deep inside a string concatenation.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from saas_platform.components.errors import ComponentArgError


def _required(value: object, what: str, invoke: str, argument: str) -> str:
    if not isinstance(value, str) or not value:
        raise ComponentArgError(
            f"{invoke} returned no {what} (got {value!r}): set aws:region in the stack config, pass {argument}=..., "
            f"or, in unit tests, return {{{what!r}: ...}} from Mocks.call for {invoke}"
        )
    return value


def resolve_region(region: pulumi.Input[str] | None, parent: pulumi.Resource | None = None) -> pulumi.Input[str]:
    """``region`` itself, else the ``aws:index/getRegion`` invoke through ``parent``'s provider, else (an invoke
    answering without one) ``aws:region`` from the stack config."""
    if region is not None:
        return region
    looked_up = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    return looked_up.apply(
        lambda r: _required(
            getattr(r, "region", None) or aws.config.region, "region", "aws:index/getRegion:getRegion", "region"
        )
    )


def resolve_account(account_id: pulumi.Input[str] | None, parent: pulumi.Resource | None = None) -> pulumi.Input[str]:
    """``account_id`` itself, else the ``aws:index/getCallerIdentity`` invoke's account."""
    if account_id is not None:
        return account_id
    looked_up = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent))
    return looked_up.apply(
        lambda c: _required(
            getattr(c, "account_id", None), "accountId", "aws:index/getCallerIdentity:getCallerIdentity", "account_id"
        )
    )
