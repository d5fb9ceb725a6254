"""The OpenMP wait policy: nothing on import, except PASSIVE in a Jupyter kernel that has not
loaded torch; PASSIVE set by the entry points, a short spin only for processes that own the cores
(bdgf-bench), and never over a choice the user made."""

import os
import subprocess
import sys

import pytest

from bdgf_nb import openmp


def _without_policy() -> dict[str, str]:
    """This environment less both wait-policy variables (as a user who set neither)."""
    return {k: v for k, v in os.environ.items() if k not in openmp.VARIABLES}


def _fresh_process(env_extra: dict[str, str]) -> list[str]:
    """What a new process sees: the policy after importing the whole package, then after an
    entry point's `apply_shared_default`, the user's choice and the spin offered to a child."""
    env = _without_policy() | env_extra
    code = (
        "import os, bdgf_nb.cli.run, bdgf_nb.openmp as o; "
        "print(os.environ.get('OMP_WAIT_POLICY')); o.apply_shared_default(); "
        "print(os.environ.get('OMP_WAIT_POLICY')); print(sorted(o.user_choice())); print(o.exclusive_env())"
    )
    return subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout.splitlines()


def test_import_sets_nothing_and_an_entry_point_sets_passive_and_offers_the_spin() -> None:
    assert _fresh_process({}) == ["None", "PASSIVE", "[]", str(openmp.SPIN)]


_KERNEL = "import sys, types; sys.modules['ipykernel'] = types.ModuleType('ipykernel'); "


@pytest.mark.parametrize(
    ("before", "env", "expected"),
    [
        (_KERNEL, {}, "PASSIVE"),  # a JupyterLab kernel importing bdgf_nb first
        ("", {}, "None"),  # a plain python process: nothing
        (_KERNEL + "import torch; ", {}, "None"),  # torch loaded first: too late, so left alone
        (_KERNEL, {"GOMP_SPINCOUNT": "0"}, "None"),  # the user's choice
    ],
)
def test_importing_bdgf_nb_in_a_jupyter_kernel_sets_passive(before: str, env: dict[str, str], expected: str) -> None:
    code = before + "import os, bdgf_nb; print(os.environ.get('OMP_WAIT_POLICY'))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=_without_policy() | env, check=True, capture_output=True, text=True
    )
    assert out.stdout.strip() == expected


@pytest.mark.parametrize("choice", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "0"}])
def test_a_user_choice_is_kept_and_no_spin_is_added(choice: dict[str, str]) -> None:
    """Also what a child started with the spin sees: a chosen policy, never a second restart."""
    imported, policy, chosen, added = _fresh_process(choice)
    assert (
        imported == policy == choice.get("OMP_WAIT_POLICY", "None") and chosen == str(sorted(choice)) and added == "{}"
    )


def test_a_child_started_with_the_spin_keeps_it_and_is_offered_nothing_more() -> None:
    """bdgf-bench restarts itself with the spin once: the restarted process, whose PASSIVE is the
    entry point's default, sees the spin as chosen and does not restart again."""
    env = {"OMP_WAIT_POLICY": "PASSIVE", openmp.MARK: "PASSIVE", **openmp.SPIN}
    assert _fresh_process(env) == ["PASSIVE", "PASSIVE", "['GOMP_SPINCOUNT']", "{}"]


def test_bdgf_run_kernels_sleep_and_the_environment_is_restored(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A kernel run one after another may still share the machine with work outside the run:
    no spin is added (PASSIVE from bdgf-run's default); side by side it also runs on one thread."""
    import papermill

    from bdgf_nb.cli import run

    seen: dict[str, str | None] = {}
    monkeypatch.setattr(
        papermill,
        "execute_notebook",
        lambda *a, **k: seen.update(spin=os.environ.get("GOMP_SPINCOUNT"), threads=os.environ.get("OMP_NUM_THREADS")),
    )
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setenv(openmp.MARK, "PASSIVE")  # the policy in the environment is bdgf-run's default, not the user's
    run.execute_notebook(tmp_path / "a.ipynb", tmp_path / "b.ipynb", {})
    assert seen == {"spin": None, "threads": None} and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    run.execute_notebook(tmp_path / "a.ipynb", tmp_path / "b.ipynb", {}, exclusive=False)
    assert seen == {"spin": None, "threads": "1"} and "OMP_NUM_THREADS" not in os.environ


_STEPS = """
import torch
from bdgf_nb.pipeline.presets import preset
from bdgf_nb.checkpoint import state_dict_hash
from bdgf_nb.device import adamw
from bdgf_nb.model.bdgf import BDGF
from bdgf_nb.train.classifier import classifier_step

torch.set_num_threads(2)
settings = preset("quick")
groups, guide_channels, classes, patch, b = {"hsi": 5, "lidar": 1}, [8, 16, 16], 4, 7, 32
g = torch.Generator().manual_seed(0)
x = torch.randn(b, 6, patch, patch, generator=g)
guides = [torch.randn(b, c, patch, patch, generator=g) for c in guide_channels]
y = torch.randint(0, classes, (b,), generator=g)
torch.manual_seed(0)
model = BDGF(settings.model, groups, guide_channels, classes).train()
optimizer = adamw(model.parameters(), lr=settings.train.lr, weight_decay=settings.train.weight_decay)
for _ in range(3):
    classifier_step(model, model, x, guides, y, optimizer, settings.train)
print(state_dict_hash(model))
"""


def test_the_wait_policy_changes_no_bit_of_a_two_thread_training() -> None:
    """Same thread count, same work split: spinning or sleeping between regions is timing only
    (three BDGF steps on 2 threads, the numba scan included, weights hashed)."""
    hashes = {}
    for name, policy in {"passive": openmp.PASSIVE, "spin": {**openmp.PASSIVE, **openmp.SPIN}}.items():
        hashes[name] = subprocess.run(
            [sys.executable, "-c", _STEPS], env=_without_policy() | policy, check=True, capture_output=True, text=True
        ).stdout.strip()
    assert hashes["passive"] == hashes["spin"] and len(hashes["passive"]) == 16


def test_bdgf_bench_restarts_itself_with_the_spin_and_records_it(tmp_path) -> None:
    """From the command line with no policy chosen, the bench runs under the short spin (libgomp
    reads the variable when torch loads, so it execs itself once) and says so in `machine`."""
    import json

    out = tmp_path / "bench.json"
    subprocess.run(
        [sys.executable, "-m", "bdgf_nb.cli.bench", "--quick", "--only", "features", "--out", str(out)],
        env=_without_policy(),
        check=True,
        capture_output=True,
        timeout=600,
    )
    assert json.loads(out.read_text())["machine"]["openmp"] == {**openmp.PASSIVE, **openmp.SPIN}
