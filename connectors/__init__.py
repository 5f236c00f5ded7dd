"""Source contract and connectors. Knows nothing of the index."""
