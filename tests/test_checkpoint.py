import random
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from bdgf_nb.checkpoint import (
    atomic_write_bytes,
    capture_rng_state,
    config_hash,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
    state_dict_hash,
)
from bdgf_nb.errors import CheckpointError


@dataclass
class Cfg:
    width: int = 8
    mults: tuple[int, ...] = (1, 2)


def test_roundtrip_and_config_mismatch_names_the_field(tmp_path):
    path = tmp_path / "ck.pt"
    state = {"w": torch.arange(5.0), "history": [{"epoch": 1, "loss": 0.5}]}
    save_checkpoint(path, state, Cfg())
    loaded = load_checkpoint(path, expected_config=Cfg())
    assert torch.equal(loaded["w"], state["w"]) and loaded["history"] == state["history"]
    with pytest.raises(CheckpointError, match=r"ck\.pt.*another config.*width: checkpoint has 8, expected 16"):
        load_checkpoint(path, expected_config=Cfg(width=16))
    with pytest.raises(CheckpointError, match=r"extra: missing in checkpoint"):
        load_checkpoint(path, expected_config={"width": 8, "mults": [1, 2], "extra": 1})


def test_missing_truncated_and_corrupt_files_raise(tmp_path):
    with pytest.raises(CheckpointError, match=r"nope\.pt: file not found"):
        load_checkpoint(tmp_path / "nope.pt")
    path = tmp_path / "ck.pt"
    save_checkpoint(path, {"w": torch.randn(100)}, Cfg())
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path)
    flipped = bytearray(data)
    flipped[-5] ^= 0xFF
    path.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="corrupt payload"):
        load_checkpoint(path)
    path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a bdgf checkpoint"):
        load_checkpoint(path)
    path.write_bytes(data[:20])
    with pytest.raises(CheckpointError, match="corrupt header"):
        load_checkpoint(path)


def test_atomic_write_leaves_no_temp_files(tmp_path):
    atomic_write_bytes(b"first", tmp_path / "x.pt")
    atomic_write_bytes(b"second", tmp_path / "x.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]
    assert (tmp_path / "x.pt").read_bytes() == b"second"


def test_config_hash_is_stable_and_sensitive():
    assert config_hash(Cfg()) == config_hash({"mults": [1, 2], "width": 8})  # key order, tuples
    assert config_hash(Cfg()) != config_hash(Cfg(width=9))
    assert len(config_hash(Cfg())) == 16


def test_state_dict_hash_tracks_weights():
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    b.load_state_dict(a.state_dict())
    assert state_dict_hash(a) == state_dict_hash(b)
    with torch.no_grad():
        b.bias[0] += 1e-6
    assert state_dict_hash(a) != state_dict_hash(b)


def test_rng_state_roundtrip():
    state = capture_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())  # noqa: NPY002
    restore_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first  # noqa: NPY002
