"""Permission-trimmed hybrid retrieval. Imports from ``indexer`` (and its records) only."""
