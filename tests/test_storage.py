"""storage.py: results kept as JSON (or an array as .npz) under the key of what they were computed from."""

from __future__ import annotations

import numpy as np
import pytest

from bdgf_nb.storage import array_digest, atomic_write_bytes, stored_array, stored_json


def test_a_stored_value_is_read_back_only_under_its_own_key(tmp_path):
    path = tmp_path / "sub" / "value.json"
    calls: list[int] = []

    def compute() -> dict:
        calls.append(1)
        return {"b": np.float64(0.1), "a": (1, np.int64(2)), "nan": float("nan"), "none": None}

    first = stored_json(path, {"x": 1}, compute)
    assert first["a"] == [1, 2] and list(first) == ["b", "a", "nan", "none"]  # the JSON round trip, key order kept
    assert np.isnan(first["nan"]) and type(first["b"]) is float
    second = stored_json(path, {"x": 1}, compute)
    assert len(calls) == 1 and second["a"] == first["a"] and list(second) == list(first)
    stored_json(path, {"x": 2}, compute)  # another key: computed again, and replaces the file
    assert len(calls) == 2
    stored_json(path, {"x": 1}, compute)
    assert len(calls) == 3


def test_a_damaged_file_is_recomputed_and_write_false_leaves_nothing(tmp_path):
    path = tmp_path / "value.json"
    path.write_bytes(b'{"key": {"x": 1}, "val')
    assert stored_json(path, {"x": 1}, lambda: [1, 2]) == [1, 2]
    assert stored_json(path, {"x": 1}, lambda: [3]) == [1, 2]  # the rewritten file is sound
    elsewhere = tmp_path / "not_written.json"
    assert stored_json(elsewhere, {"x": 1}, lambda: 5, write=False) == 5 and not elsewhere.exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_array_digest_sees_every_byte_the_dtype_and_the_shape():
    a = np.zeros((4, 5), dtype=np.float32)
    b = a.copy()
    b[3, 4] = 1e-30
    assert array_digest(a) == array_digest(a.copy()) != array_digest(b)
    assert array_digest(a) != array_digest(a.reshape(5, 4)) and array_digest(a) != array_digest(a.astype(np.float64))
    assert array_digest(a.T) == array_digest(np.ascontiguousarray(a.T))


def test_a_file_that_cannot_be_written_costs_a_warning_not_the_result(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.warns(UserWarning, match="could not store"):
        assert stored_json(blocker / "value.json", {"x": 1}, lambda: {"ok": True}) == {"ok": True}


def test_a_stored_array_is_read_back_exactly_only_under_its_key_and_a_damaged_one_is_replaced(tmp_path):
    path = tmp_path / "maps" / "scene.map.npz"
    calls: list[int] = []
    labels = np.arange(12, dtype=np.int64).reshape(3, 4)

    def compute() -> np.ndarray:
        calls.append(1)
        return labels

    first = stored_array(path, {"weights": "abc", "patch": 5}, compute)
    again = stored_array(path, {"patch": 5, "weights": "abc"}, compute)  # same key, other order: read back
    assert (
        len(calls) == 1 and np.array_equal(again, labels) and again.dtype == np.int64 and np.array_equal(first, labels)
    )
    stored_array(path, {"weights": "def", "patch": 5}, compute)  # other weights: computed again
    assert len(calls) == 2
    path.write_bytes(b"PK\x03\x04 not a zip")
    assert np.array_equal(stored_array(path, {"weights": "def", "patch": 5}, compute), labels) and len(calls) == 3
    assert np.array_equal(stored_array(path, {"weights": "def", "patch": 5}, compute), labels) and len(calls) == 3
    elsewhere = tmp_path / "unwritten.npz"
    assert np.array_equal(stored_array(elsewhere, {"x": 1}, compute, write=False), labels) and not elsewhere.exists()
    assert not list(path.parent.glob(".*.tmp"))


def test_files_written_whole_get_the_permissions_open_would_give(tmp_path):
    """mkstemp creates 0600 files; a stored result or exported map must not become private."""
    atomic_write_bytes(b"x", tmp_path / "atomic.bin")
    (tmp_path / "plain.bin").write_bytes(b"x")
    assert (tmp_path / "atomic.bin").stat().st_mode == (tmp_path / "plain.bin").stat().st_mode


def test_a_file_of_the_former_layout_is_recomputed_without_a_warning(tmp_path, recwarn):
    """A scene map stored before storage.py (members key and value) is another format, not damage."""
    import io
    import json

    from bdgf_nb.storage import config_record

    path = tmp_path / "old.map.npz"
    buffer = io.BytesIO()
    np.savez(buffer, key=np.array(json.dumps(config_record({"x": 1}), sort_keys=True)), value=np.zeros(3))
    path.write_bytes(buffer.getvalue())
    assert np.array_equal(stored_array(path, {"x": 1}, lambda: np.ones(3)), np.ones(3))
    assert not [w for w in recwarn if "unusable" in str(w.message)]
