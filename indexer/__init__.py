"""Sync runs and the index backends. Imports from ``connectors`` only."""
