"""uvicorn's access log without personal data.

Its lines carry the request target as sent: ``/v1/documents/<doc id>?user=<email>&groups=...``.
Access logs are kept long and read widely, so each line names the route template instead
(``/v1/documents/{doc_id}``) and never the query string; who read what is in the audit file.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Route
from uvicorn.config import LOGGING_CONFIG

UNMATCHED = "(unmatched)"


class RedactedAccessLog(logging.Filter):
    def __init__(self, app: Starlette) -> None:
        super().__init__()
        self._routes = [route for route in app.routes if isinstance(route, Route)]

    def template(self, target: str) -> str:
        path = target.split("?", 1)[0]
        for route in self._routes:
            if route.path_regex.match(path):
                return route.path_format
        # An unknown path is whatever the client typed, possibly an email: not logged either.
        return UNMATCHED

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn's arguments: client address, method, target (path and query), version, status.
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], self.template(args[2]), *args[3:])
        return True


def log_config(app: Starlette) -> dict[str, Any]:
    """uvicorn's own logging configuration with the access lines redacted."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_access"] = {"()": RedactedAccessLog, "app": app}
    config["handlers"]["access"]["filters"] = ["redact_access"]
    return config
