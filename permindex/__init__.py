"""Composition root: configuration and the CLI wiring connectors, indexer, retrieval, schedules."""
