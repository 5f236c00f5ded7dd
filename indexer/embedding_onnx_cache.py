"""The ONNX export cache: one folder per model (name + digest of its files + exporter version).

Every artifact is written to a temporary file in the same folder and renamed into place, so a
killed export never leaves a file under its final name. Each artifact has a sidecar
(``<name>.sha256``) written after it; an artifact whose sidecar is missing or disagrees with its
size or digest is treated as absent and exported again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

# Part of every cache key: bump it when the export or quantisation recipe changes, so old
# artifacts are never mistaken for new ones.
EXPORTER_VERSION = "3"
_CHUNK = 1 << 20
_SMALL_FILE = 4 << 20


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/permindex/onnx``, else ``~/.cache/permindex/onnx``."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "permindex" / "onnx"


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def model_digest(model_dir: Path) -> str:
    """Digest of the model folder: every file's path and size, the content of small files
    (configs, tokenizer, pooling) and the modification time of large ones (weights), so a
    changed model gets a new cache folder without hashing its weights on every start."""
    digest = hashlib.sha256(f"exporter {EXPORTER_VERSION}\0".encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(model_dir).as_posix()
        if relative.startswith(".") or "/." in relative:
            continue  # VCS metadata (.gitattributes, .git/) is not part of the model
        stat = path.stat()
        content = file_digest(path) if stat.st_size <= _SMALL_FILE else str(stat.st_mtime_ns)
        digest.update(f"{relative}\0{stat.st_size}\0{content}\0".encode())
    return digest.hexdigest()


def cache_folder(root: Path, model_name: str, model_dir: Path) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model_name).strip("-.") or "model"
    return root / f"{slug[:80]}-{model_digest(model_dir)[:16]}"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def is_valid(path: Path) -> bool:
    """The artifact exists and matches the size and digest its sidecar recorded."""
    try:
        recorded = json.loads(_sidecar(path).read_text(encoding="utf-8"))
        size = path.stat().st_size
    except (OSError, ValueError):
        return False
    if not isinstance(recorded, dict) or recorded.get("bytes") != size:
        return False
    return bool(recorded.get("sha256") == file_digest(path))


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the cache from other service users
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


def write_artifact(path: Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` through ``write(tmp_path)``, rename it into place, then its sidecar."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _sidecar(path).unlink(missing_ok=True)  # an artifact being replaced is invalid meanwhile
    _atomic_write(path, write)
    record = json.dumps({"sha256": file_digest(path), "bytes": path.stat().st_size})
    _atomic_write(_sidecar(path), lambda tmp: write_text(tmp, record))


@contextmanager
def export_lock(folder: Path) -> Iterator[None]:
    """One exporter per cache folder at a time, across processes (others wait, then reuse)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
