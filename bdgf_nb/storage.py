"""Files written whole or not at all, and results kept under the key of what they were computed from.

Two mechanisms every layer needs, in one place:

- **Atomic writes.** `atomic_write_bytes` writes a temporary file in the target's folder,
  fsyncs it and renames it over the target, so a reader (or a run killed mid-write) sees the old
  file or the new one, never half of one. `atomic_files` commits several files together (a map's
  GeoTIFF, PNG and area table). Temporary files of killed writers are removed on the next write.
- **Stored results.** `stored_json` and `stored_arrays` return the value stored at a path under
  a key (a record of everything the value was computed from: weights, pixels, configs, library
  versions), or compute it and store it there. A file with another key is recomputed and
  replaced; a damaged one too, with a warning; a file that cannot be written costs a warning,
  not the result. They serve the classifiers' stored evaluations, the fused baselines, the scene
  maps and the diffusion features, so a rerun (or `bdgf-run --jobs`' workers, then the
  notebook) computes each once.

A stored JSON value is returned as its JSON round trip, so a fresh result and a reloaded one are
the same Python objects and tables built from either are identical; NaN stays NaN.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import hashlib
import io
import json
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

# --- atomic writes ------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except PermissionError:  # exists, owned by another user
        return True
    except (ProcessLookupError, OverflowError):
        return False
    return True


def _remove_orphaned_temps(path: Path) -> None:
    """Delete `.<name>.<pid>.*.tmp` siblings left by a killed writer (its pid no longer runs).
    POSIX only: on Windows `os.kill(pid, 0)` would terminate the process instead of probing it."""
    if os.name != "posix":
        return
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(\d+)\.[^.]+\.tmp")  # mkstemp's random part has no dot
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        match = pattern.fullmatch(tmp.name)
        if match and not _pid_alive(int(match.group(1))):
            tmp.unlink(missing_ok=True)


def _temporary(path: Path) -> Path:
    """A new empty temporary file beside `path`, named `.<name>.<pid>.<random>.tmp` (a writer
    that picks its format by the file's suffix must be told the format)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphaned_temps(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would make every result private to its writer
    return Path(tmp)


def _umask() -> int:
    """The process's file-creation mask: from /proc (Linux), else by setting it and setting it back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_files() -> Iterator[Callable[[str | Path], Path]]:
    """Write several files that appear together or not at all::

        with atomic_files() as place:
            write_png(place(out / "map.png"))
            write_csv(place(out / "map_area.csv"))

    `place(final)` returns a temporary path to write instead of `final`. When the block ends
    without an error every temporary file is fsynced and renamed over its target; on an error
    every one is removed and no target changes."""
    pending: dict[Path, Path] = {}  # final -> temporary

    def place(final: str | Path) -> Path:
        final = Path(final)
        if final not in pending:
            pending[final] = _temporary(final)
        return pending[final]

    try:
        yield place
        for tmp in pending.values():
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
    except BaseException:
        for tmp in pending.values():
            tmp.unlink(missing_ok=True)
        raise
    for final, tmp in pending.items():
        os.replace(tmp, final)  # atomic on POSIX and Windows


def atomic_write_bytes(data: bytes, path: str | Path) -> None:
    """Write `data` to `path` so readers see the old file or the new one, never half of it."""
    with atomic_files() as place:
        place(path).write_bytes(data)


def atomic_write_text(text: str, path: str | Path) -> None:
    atomic_write_bytes(text.encode(), path)


def atomic_write_json(data: Any, path: str | Path, indent: int | None = 2) -> None:
    """`data` written atomically as strict JSON (`json_safe`: numpy values as Python numbers and
    lists, NaN and infinities as null), for files other programs read (summary.json, bench.json)."""
    atomic_write_text(json.dumps(json_safe(data), indent=indent), path)


def json_safe(value: Any) -> Any:
    """A copy that strict JSON can hold: numpy scalars and arrays to Python, NaN / inf to None,
    tuples to lists, keys to strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


# --- keys ---------------------------------------------------------------------------------------


def config_record(config: Any) -> Any:
    """A dataclass (nested allowed) or dict -> plain JSON values (tuples become lists)."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        config = dataclasses.asdict(config)
    return json.loads(json.dumps(config, sort_keys=True, default=str))


def config_hash(config: Any) -> str:
    """Stable 16-hex-digit hash of a config: sha256 of its JSON with sorted keys."""
    text = json.dumps(config_record(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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


# --- stored results -----------------------------------------------------------------------------

# What a missing, truncated or foreign file raises on reading (NotImplementedError: a flipped
# byte in a zip header can name an unknown compression).
_UNREADABLE = (OSError, ValueError, KeyError, EOFError, NotImplementedError, zipfile.BadZipFile)


def _store(data: bytes, path: Path) -> None:
    try:
        atomic_write_bytes(data, path)
    except OSError as err:
        warnings.warn(
            f"could not store {path} ({type(err).__name__}: {err}); it will be computed again next time", stacklevel=3
        )


def stored_json(path: str | Path, key: Any, compute: Callable[[], Any], write: bool = True) -> Any:
    """The value stored at `path` under `key`, or `compute()` stored there (when `write`; with
    `write=False` nothing is written or replaced: one process of a torchrun job writes, the
    others only compute). `key`: JSON data or a dataclass. File: {"key": ..., "value": ...}."""
    path = Path(path)
    record = config_record(key)
    if path.exists():
        try:
            stored = json.loads(path.read_text())
            if isinstance(stored, dict) and stored.get("key") == record and "value" in stored:
                return stored["value"]
        except _UNREADABLE as err:
            warnings.warn(
                f"stored result {path} is unusable ({type(err).__name__}: {err}); rebuilding it", stacklevel=2
            )
    text = json.dumps({"key": record, "value": compute()}, default=_plain)  # key order kept: rows become table columns
    if write:
        _store(text.encode(), path)
    return json.loads(text)["value"]


def stored_arrays(
    path: str | Path,
    key: Any,
    compute: Callable[[], list[np.ndarray]],
    write: bool = True,
    check: Callable[[list[np.ndarray]], None] | None = None,
) -> tuple[list[np.ndarray], bool]:
    """`stored_json` for a list of numpy arrays (scene maps, diffusion features), kept as one
    .npz (read without pickle); -> (arrays, whether they were read from the file).

    `check(arrays)` may raise ValueError on arrays that do not fit the key (a damaged file);
    they are then recomputed with a warning, like a file that cannot be read."""
    path = Path(path)
    record = json.dumps(config_record(key), sort_keys=True, default=_plain)
    if path.exists():
        try:
            with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as stored:
                if str(stored["key"]) == record and "n_arrays" in stored.files:  # else another key or format
                    arrays = [np.array(stored[f"array{k}"]) for k in range(int(stored["n_arrays"]))]
                    if check is not None:
                        check(arrays)
                    return arrays, True
        except _UNREADABLE as err:
            warnings.warn(
                f"stored result {path} is unusable ({type(err).__name__}: {err}); rebuilding it", stacklevel=2
            )
    arrays = [np.asarray(a) for a in compute()]
    if write:
        buffer = io.BytesIO()
        members: dict[str, np.ndarray] = {"key": np.array(record), "n_arrays": np.array(len(arrays))}
        members.update({f"array{k}": a for k, a in enumerate(arrays)})
        np.savez(buffer, **members)  # type: ignore[arg-type]  # (numpy's stubs read **members as allow_pickle)
        _store(buffer.getvalue(), path)
    return arrays, False


def stored_array(path: str | Path, key: Any, compute: Callable[[], np.ndarray], write: bool = True) -> np.ndarray:
    """`stored_arrays` for one array (a whole-scene label map)."""
    return stored_arrays(path, key, lambda: [compute()], write)[0][0]
