"""Composition root: configuration loading and the CLI that wires connectors, indexer, retrieval and schedules."""
