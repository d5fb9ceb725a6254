"""Checkpoints that fail loudly: a config record, a content check, RNG capture.

File layout (one file per checkpoint)::

    b"BDGFCKPT1\\n"                                  magic line
    {"config": ..., "config_hash": ..., "sha256": ..., "size": ...}\\n   JSON header line
    <torch.save bytes of the state>                 payload, `size` bytes, hashed by `sha256`

The header is read before anything is unpickled, so a missing, truncated or corrupt file, or one
written for another config, raises `CheckpointError` naming the file and the reason
(`CorruptCheckpointError` when the file itself is damaged). `resume_state` is what training
loops call: no file or a damaged one (kept aside as `<name>.corrupt`, with a warning) means
"start afresh"; a sound checkpoint of another config is an error. Payloads are unpickled with
`weights_only=False` (they hold RNG states and histories): load only checkpoints this project
wrote.

Writes are atomic (`storage.atomic_write_bytes`), so a run killed mid-write (SIGKILL) leaves
the previous checkpoint intact.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bdgf_nb.errors import CheckpointError, CorruptCheckpointError
from bdgf_nb.storage import atomic_write_bytes, config_hash, config_record

MAGIC = b"BDGFCKPT1\n"


def state_dict_hash(state: torch.nn.Module | dict[str, torch.Tensor]) -> str:
    """16-hex-digit hash of a model's weights (names, dtypes, shapes and bytes, in key order)."""
    if isinstance(state, torch.nn.Module):
        state = state.state_dict()
    digest = hashlib.sha256()
    for name, tensor in state.items():
        array = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{array.dtype}:{tuple(array.shape)};".encode())
        digest.update(array.view(torch.uint8).numpy().tobytes() if array.numel() else b"")
    return digest.hexdigest()[:16]


def _differences(found: Any, expected: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two JSON records differ, with both values."""
    if isinstance(found, dict) and isinstance(expected, dict):
        out = []
        for key in sorted(set(found) | set(expected)):
            where = f"{prefix}.{key}" if prefix else str(key)
            if key not in found:
                out.append(f"{where}: missing in checkpoint, expected {expected[key]!r}")
            elif key not in expected:
                out.append(f"{where}: checkpoint has {found[key]!r}, not in expected config")
            else:
                out.extend(_differences(found[key], expected[key], where))
        return out
    return [] if found == expected else [f"{prefix or 'config'}: checkpoint has {found!r}, expected {expected!r}"]


def save_checkpoint(path: str | Path, state: dict[str, Any], config: Any) -> None:
    """Atomically write `state` with the config it belongs to (see the module docstring)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    header = {
        "config": config_record(config),
        "config_hash": config_hash(config),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "size": len(payload),
    }
    atomic_write_bytes(MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload, path)


def load_checkpoint(path: str | Path, expected_config: Any = None) -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint` and return its state.

    Raises CheckpointError (naming the file) when it is missing, not a checkpoint, truncated,
    corrupt, or (with `expected_config`) written for another config, listing the fields that differ."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: file not found")
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise CorruptCheckpointError(
            f"checkpoint {path}: not a bdgf checkpoint (expected magic {MAGIC!r} at the start)"
        )
    end = data.find(b"\n", len(MAGIC))
    try:
        header: dict[str, Any] = json.loads(data[len(MAGIC) : end]) if end > 0 else {}
        size, sha, saved_config = int(header["size"]), str(header["sha256"]), header["config"]
    except (ValueError, TypeError, KeyError) as exc:
        raise CorruptCheckpointError(f"checkpoint {path}: corrupt header ({exc or 'truncated'})") from exc
    payload = data[end + 1 :]
    if len(payload) != size:
        raise CorruptCheckpointError(
            f"checkpoint {path}: truncated or padded payload (expected {size} bytes, found {len(payload)})"
        )
    if hashlib.sha256(payload).hexdigest() != sha:
        raise CorruptCheckpointError(f"checkpoint {path}: corrupt payload (sha256 does not match the header)")
    if expected_config is not None:
        differences = _differences(saved_config, config_record(expected_config))
        if differences:
            raise CheckpointError(f"checkpoint {path}: written for another config; " + "; ".join(differences))
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=False)
    except Exception as exc:  # any unpickling failure means a corrupt file
        raise CorruptCheckpointError(f"checkpoint {path}: corrupt payload ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict):
        raise CorruptCheckpointError(f"checkpoint {path}: expected a dict state, found {type(state).__name__}")
    return state


def resume_state(path: str | Path | None, expected_config: Any) -> dict[str, Any] | None:
    """The state a training loop resumes from, or None to start afresh.

    None when `path` is None or holds no file, and when the file is damaged: it is then renamed
    to `<name>.corrupt` (kept for inspection, replacing an older one) with a warning, never used.
    A sound checkpoint written for another config raises CheckpointError naming the fields."""
    if path is None or not Path(path).exists():
        return None
    try:
        return load_checkpoint(path, expected_config)
    except CorruptCheckpointError as err:
        aside = Path(path).with_name(Path(path).name + ".corrupt")
        with contextlib.suppress(FileNotFoundError):  # another rank of a DDP run moved it first
            os.replace(path, aside)
        warnings.warn(f"{err}; moved it to {aside} and starting afresh", stacklevel=2)
        return None


def load_module_state(module: torch.nn.Module, state: dict[str, Any], where: str) -> None:
    """`module.load_state_dict(state)`, with a CheckpointError listing missing / unexpected keys
    and shape mismatches instead of torch's RuntimeError (a checkpoint of another architecture)."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k}: checkpoint {tuple(state[k].shape)}, model {tuple(own[k].shape)}"
        for k in own
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    problems = [
        f"missing keys {missing[:5]}{' ...' if len(missing) > 5 else ''}" if missing else "",
        f"unexpected keys {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}" if unexpected else "",
        f"shape mismatch {'; '.join(shapes[:5])}" if shapes else "",
    ]
    problems = [p for p in problems if p]
    if problems:
        raise CheckpointError(
            f"{where}: weights do not fit this {type(module).__name__} (another architecture?): " + "; ".join(problems)
        )
    module.load_state_dict(state)


def capture_rng_state() -> dict[str, Any]:
    """Global python, numpy and torch (CPU, and CUDA when present) RNG states."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002 (global state by design)
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of `capture_rng_state`."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
