"""Operator actions on a deployment: pause, delete a source, prune preview, retention, re-index.

Each action lives in its own module and works on ``indexer.backends.Stores``, so the CLI
(``permindex/cli_operations.py``) and the admin API (``retrieval/service/admin_operations.py``)
call the same code.
"""
