"""Results kept as small JSON files (or one array as a .npz), keyed by a record of everything they
were computed from, so a rerun reads them instead of computing them again: the test and
validation evaluation of a trained classifier (beside its checkpoint), one model seed's fused
baselines, and whole-scene label maps (`stored_array`).

Why: `bdgf-run --jobs` trains notebook 03's runs in worker processes, and the notebook then
reloads each one. Without a stored evaluation, every reload predicted the test and validation
pixels again (about 4 s per BDGF-size run on houston2018_west, 2 min of the notebook over 45
runs), and every model seed's SVM and RF were fitted again in the notebook (11 s each).

A file holds `{"key": ..., "value": ...}` and is used only when its key equals the one asked for
(so new weights, other pixels or another config recompute it). A missing, unreadable or
other-key file is recomputed and replaced atomically (`checkpoint.atomic_write_bytes`): readers
see the old file or the new one, never half of one. A file that cannot be written (read-only
folder, full disk) costs a warning, not the result just computed. The value returned is always
the JSON round trip of what was computed, so a fresh result and a reloaded one are the same
Python objects (dicts, lists, floats, None) and tables built from either are identical. NaN is
kept as NaN, unlike `app.results`' records (which write None), so a stored score equals the
computed one.

Scene maps: notebook 03 draws BDGF's and the random forest's map of the whole scene, and
notebook 04 drew the same two maps again from the same weights (the largest part of its run on
a scene of Houston's size). `stored_array` keeps such an array under the same rule.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bdgf_nb.checkpoint import atomic_write_bytes, config_record


def array_digest(array: np.ndarray) -> str:
    """16 hex digits of an array's dtype, shape and every byte (for keys of stored results)."""
    contiguous = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{contiguous.dtype.str};{contiguous.shape};".encode())
    digest.update(contiguous.tobytes())
    return digest.hexdigest()[:16]


def _plain(value: Any) -> Any:
    """json.dumps' fallback: numpy scalars and arrays as Python numbers and lists."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"a stored result must be JSON data, found {type(value).__name__}")


def stored_json(path: str | Path, key: Any, compute: Callable[[], Any], write: bool = True) -> Any:
    """The value stored at `path` under `key`, or `compute()` stored there (when `write`; with
    `write=False` nothing is written or replaced: one process of a torchrun job writes, the
    others only compute). `key`: JSON data or a dataclass."""
    path = Path(path)
    record = config_record(key)
    try:
        stored = json.loads(path.read_text())
        if isinstance(stored, dict) and stored.get("key") == record and "value" in stored:
            return stored["value"]
    except (OSError, ValueError):  # missing or unreadable (a damaged file is replaced below)
        pass
    text = json.dumps({"key": record, "value": compute()}, default=_plain)  # key order kept: rows become table columns
    if write:
        try:
            atomic_write_bytes(text.encode(), path)
        except OSError as err:
            warnings.warn(f"could not store {path} ({type(err).__name__}: {err}); it will be computed again next time", stacklevel=2)
    return json.loads(text)["value"]


def stored_array(path: str | Path, key: Any, compute: Callable[[], np.ndarray], write: bool = True) -> np.ndarray:
    """`stored_json` for one numpy array (a scene map): a .npz holding the array and its key.

    Read without pickle; a file of another key, or a damaged one, is recomputed and replaced."""
    path = Path(path)
    record = json.dumps(config_record(key), sort_keys=True, default=_plain)
    try:
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as stored:
            if str(stored["key"]) == record:
                return np.array(stored["value"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # missing, damaged or not ours (replaced below)
        pass
    value = np.asarray(compute())
    if write:
        buffer = io.BytesIO()
        np.savez(buffer, key=np.array(record), value=value)
        try:
            atomic_write_bytes(buffer.getvalue(), path)
        except OSError as err:
            warnings.warn(f"could not store {path} ({type(err).__name__}: {err}); it will be computed again next time", stacklevel=2)
    return value
