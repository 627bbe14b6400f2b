"""Offline testing: run a Pulumi program under mocks, capture every resource, evaluate policy packs (docs/offline-plan.md)."""
