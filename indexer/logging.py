"""Structured JSON logs for sync runs (one JSON object per line, extra fields as keys)."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

_HANDLER_NAME = "permindex-json"


def configure_json_logging(level: int | str = logging.INFO, stream: TextIO | None = None) -> None:
    """Send ``permindex.*`` logs to ``stream`` (stderr) as JSON; idempotent."""
    logger = logging.getLogger("permindex")
    logger.setLevel(level)
    for handler in list(logger.handlers):
        if handler.get_name() == _HANDLER_NAME:
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "asctime": "time"},
        )
    )
    logger.addHandler(handler)
    # Our handler is the one that writes; the root logger would print the same record twice.
    logger.propagate = False
