"""A stand-in for the platform's dependencies layer in component tests (no LayerVersion is registered)."""

from __future__ import annotations

from saas_platform.components.lambda_function import LayerRef

DEPS_LAYER_ARN = "arn:aws:lambda:ap-southeast-1:123456789012:layer:saas-deps:1"
DEPS_LAYER = LayerRef(DEPS_LAYER_ARN, frozenset({"aws_lambda_powertools", "jwt", "pydantic"}))
"""What handlers/requirements.txt puts into the layer, spelled out (tests do not share the code's constants)."""
