"""Adapters: the survival controller promoted to real infrastructure (Hazelcast, NautilusTrader)."""
