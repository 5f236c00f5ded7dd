"""Secrets in configuration: given by reference, held as ``SecretStr``, never printed.

A secret field accepts ``{env: NAME}`` (read from the environment), ``{file: PATH}`` (read from
a file, trailing newline dropped, e.g. a mounted Kubernetes or Docker secret) or, for local
experiments only, the value itself. The resolved value is a ``SecretStr``: its repr, its str
and pydantic's dumps show ``**********``, so it cannot reach a log line or an error body by
accident; code that needs it calls ``get_secret_value()`` at the one place it is used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, SecretStr

MAX_SECRET_FILE_BYTES = 64 * 1024


def resolve_secret(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"env"}:
            name = str(value["env"])
            found = os.environ.get(name)
            if found is None or found == "":
                raise ValueError(f"environment variable {name} (a secret reference) is not set")
            return SecretStr(found)
        if set(value) == {"file"}:
            path = Path(str(value["file"])).expanduser()
            try:
                data = path.read_bytes()[: MAX_SECRET_FILE_BYTES + 1]
            except OSError as exc:
                # The path is fine to name; the content never is.
                raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
            if len(data) > MAX_SECRET_FILE_BYTES:
                raise ValueError(f"secret file {path} is larger than {MAX_SECRET_FILE_BYTES} bytes")
            text = data.decode("utf-8", errors="strict").rstrip("\r\n")
            if not text:
                raise ValueError(f"secret file {path} is empty")
            return SecretStr(text)
        raise ValueError("a secret is {env: NAME}, {file: PATH} or the value itself")
    return value


Secret = Annotated[SecretStr, BeforeValidator(resolve_secret)]
