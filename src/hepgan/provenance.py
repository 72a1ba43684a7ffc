"""Where a result came from: versions, the command, the time, the inputs' hashes, the models' digests.

Every file hepgan writes carries this record in its metadata, and every run folder a
``provenance.json``; reports show it in their footer.

Example:
    >>> rec = record()
    >>> sorted(rec)[:4]
    ['command', 'git_commit', 'hepgan_version', 'inputs']
"""

from __future__ import annotations

import datetime
import hashlib
import json
import platform
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hepgan import __version__

__all__ = ["record", "file_sha256", "model_digest", "git_commit"]


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str | None:
    """SHA-256 of a file's bytes (None when it cannot be read); a ``.root:tree`` suffix is ignored."""
    p = Path(str(path).split(".root:")[0] + ".root") if ".root:" in str(path) else Path(path)
    h = hashlib.sha256()
    try:
        with open(p, "rb") as f:
            while block := f.read(chunk):
                h.update(block)
    except OSError:
        return None
    return h.hexdigest()


def model_digest(path: str | Path) -> str | None:
    """The SHA-256 digest a hepgan model file records of its contents (checked when it is loaded)."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("digest")
    except Exception:  # a digest is information: never fail for it
        return None


def git_commit() -> str | None:
    """The git commit of hepgan's source when it runs from a git checkout (None otherwise)."""
    src = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    if out.returncode != 0 or not commit:
        return None
    dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5, check=False)
    return commit + ("-dirty" if dirty.stdout.strip() else "")


def record(inputs: Sequence[str | Path] = (), models: Sequence[str | Path] = (), command: Sequence[str] | None = None) -> dict[str, Any]:
    """The provenance of a result made now from ``inputs`` (hashed) with ``models`` (their digests).

    Args:
        inputs: input files (event tables, configs).
        models: model files.
        command: the command line (default: this process's).
    """
    import torch

    argv = list(sys.argv if command is None else command)
    if argv and argv[0].endswith(("hepgan", "cli.py", "__main__.py")):
        argv[0] = "hepgan"
    return {
        "command": shlex.join(argv),
        "git_commit": git_commit(),
        "hepgan_version": __version__,
        "inputs": {str(p): file_sha256(p) for p in inputs},
        "models": {str(p): model_digest(p) for p in models},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": torch.__version__,
    }


def to_json(rec: dict[str, Any]) -> str:
    return json.dumps(rec, indent=1)
