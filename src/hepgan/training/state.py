"""Nested training state <-> (safetensors tensors, JSON structure), never pickle.

Optimizer and scheduler state dicts, RNG states and network weights are nested
dicts/lists of tensors and plain values. :func:`flatten` replaces every tensor
by a reference ``{"__tensor__": key}`` and collects the tensors in a flat dict
for safetensors; integer dict keys (optimizer state is keyed by parameter
index) are recorded so :func:`unflatten` restores them exactly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hepgan.exceptions import ModelFileError
from hepgan.io import atomic_path

__all__ = ["flatten", "unflatten", "save_state", "load_state", "load_model_file", "tensors_digest"]


def flatten(obj: Any, tensors: dict[str, torch.Tensor], prefix: str = "") -> Any:
    if isinstance(obj, torch.Tensor):
        key = prefix or "root"
        tensors[key] = obj.detach().to("cpu").clone().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        int_keys = all(isinstance(k, int) for k in obj) and len(obj) > 0
        body = {str(k): flatten(v, tensors, f"{prefix}.{k}" if prefix else str(k)) for k, v in obj.items()}
        return {"__intkeys__": body} if int_keys else body
    if isinstance(obj, (list, tuple)):
        return [flatten(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at '{prefix}' in a checkpoint")


def unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__tensor__"}:
            return tensors[obj["__tensor__"]]
        if set(obj) == {"__intkeys__"}:
            return {int(k): unflatten(v, tensors) for k, v in obj["__intkeys__"].items()}
        return {k: unflatten(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unflatten(v, tensors) for v in obj]
    return obj


def tensors_digest(tensors: dict[str, torch.Tensor], text: str) -> str:
    """SHA-256 over tensor names, dtypes, shapes, bytes and a JSON text: detects tampering."""
    h = hashlib.sha256(text.encode())
    for k in sorted(tensors):
        t = tensors[k]
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).contiguous().view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_state(path: str | Path, state: Any, meta: dict[str, Any] | None = None) -> Path:
    """Writes nested ``state`` to one .safetensors file atomically (JSON in its metadata header)."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    structure = json.dumps(flatten(state, tensors))
    meta_text = json.dumps(meta or {})
    header = {
        "structure": structure,
        "meta": meta_text,
        "digest": tensors_digest(tensors, structure + meta_text),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=header)
    return Path(path)


def load_state(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Reads a file written by :func:`save_state`; raises ModelFileError if absent, corrupt or tampered."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such file")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except Exception as err:
        raise ModelFileError(f"{path}: not a readable hepgan file ({type(err).__name__}: {err})") from None
    if not {"structure", "meta", "digest"} <= set(header):
        raise ModelFileError(f"{path}: not a hepgan file (no hepgan header)")
    if tensors_digest(tensors, header["structure"] + header["meta"]) != header["digest"]:
        raise ModelFileError(f"{path}: contents do not match their checksum (file modified or corrupt)")
    return unflatten(json.loads(header["structure"]), tensors), json.loads(header["meta"])


def load_model_file(path: str | Path, fmt: str, version: int) -> tuple[Any, dict[str, Any]]:
    """Reads a model file written by a method's ``save``; checks its format name and version.

    Raises:
        ModelFileError: absent, corrupt, tampered, another kind of model, or another format version.
    """
    state, meta = load_state(path)
    if meta.get("format") != fmt:
        raise ModelFileError(f"{path}: not a {fmt.replace('.', ' ')} model (format {meta.get('format')!r})")
    if meta.get("format_version") != version:
        raise ModelFileError(f"{path}: model format version {meta.get('format_version')}, this hepgan reads version {version}")
    return state, meta
