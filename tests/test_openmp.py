"""The OpenMP wait policy: PASSIVE on import, a short spin only for processes that own the cores
(bdgf-run's notebook kernels, bdgf-bench), and never over a choice the user made."""

import os
import subprocess
import sys

import pytest

from bdgf_nb import openmp


def _fresh_import(env_extra: dict[str, str]) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in openmp.VARIABLES} | env_extra
    code = "import os, bdgf_nb.openmp as o; print(os.environ.get('OMP_WAIT_POLICY')); print(sorted(o.USER_CHOICE)); print(o.exclusive_env())"
    return subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True).stdout.splitlines()


def test_import_sets_passive_and_offers_the_spin_when_the_user_chose_nothing() -> None:
    assert _fresh_import({}) == ["PASSIVE", "[]", str(openmp.SPIN)]


@pytest.mark.parametrize("choice", [{"OMP_WAIT_POLICY": "ACTIVE"}, {"GOMP_SPINCOUNT": "0"}])
def test_a_user_choice_is_kept_and_no_spin_is_added(choice: dict[str, str]) -> None:
    policy, chosen, added = _fresh_import(choice)
    assert policy == choice.get("OMP_WAIT_POLICY", "PASSIVE") and chosen == str(sorted(choice)) and added == "{}"


def test_bdgf_run_kernels_get_the_spin_and_the_environment_is_restored(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import papermill

    from bdgf_nb.cli import run

    seen: dict[str, str | None] = {}
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: seen.update(spin=os.environ.get("GOMP_SPINCOUNT")))
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    monkeypatch.setattr(openmp, "USER_CHOICE", {})
    run.execute_notebook(tmp_path / "a.ipynb", tmp_path / "b.ipynb", {})
    assert seen["spin"] == openmp.SPIN["GOMP_SPINCOUNT"] and "GOMP_SPINCOUNT" not in os.environ
    monkeypatch.setattr(openmp, "USER_CHOICE", {"OMP_WAIT_POLICY": "PASSIVE"})  # as under pytest (conftest)
    run.execute_notebook(tmp_path / "a.ipynb", tmp_path / "b.ipynb", {})
    assert seen["spin"] is None
