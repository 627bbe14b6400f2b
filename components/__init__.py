"""The components: typed ``pulumi.ComponentResource`` classes for the pool-model SaaS platform (docs/architecture.md)."""
