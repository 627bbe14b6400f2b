"""The ``saas-guardrails`` CrossGuard policy pack: rule modules, the pack list and its offline evaluator (docs/policy-pack.md)."""
