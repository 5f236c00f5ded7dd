"""Index backends: OpenSearch (production) and the embedded SQLite file (default)."""
