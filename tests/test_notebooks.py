"""Notebooks: stored clean, parameterised, and runnable headless in quick mode."""

import json
import os
import tempfile
from pathlib import Path

import nbformat
import pytest
from test_prose import check_directions

from bdgf_nb.cli.run import (
    NOTEBOOK_DIR,
    RunConfig,
    execute_notebook,
    notebook_paths,
    run_dataset,
    select_notebooks,
)
from bdgf_nb.errors import ConfigError
from bdgf_nb.pipeline.parameters import RunParameters

NOTEBOOKS = notebook_paths()


def test_notebooks_are_numbered_in_order():
    assert [p.name[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(len(NOTEBOOKS))]
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs_and_has_parameters(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "store notebooks without outputs"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0], "first code cell must be the one tagged 'parameters'"
    names = {line.split(":")[0].strip() for line in tagged[0].source.splitlines() if ":" in line}
    assert {"dataset", "quick", "seed", "out_dir"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_chapter_has_its_frame_readings_and_exercises(path):
    """Issue 17: objectives, prerequisites, run time and references up front, a reading cell
    computed from the run (tagged "reading"), and exercises at the end."""
    nb = nbformat.read(path, as_version=4)
    opening = nb.cells[0].source
    assert "**Run time.**" in opening or "**Expected run time**" in opening, f"{path.name}: say where run times are"
    for heading in (
        "**Objectives.**",
        "**Prerequisites.**",
        "**References.**",
        "arXiv:2509.23310",
    ):
        assert heading in opening, f"{path.name}: the first cell lacks {heading!r}"
    assert "quick mode" in opening and "full mode" in opening, f"{path.name}: name both run modes"
    assert any("reading" in c.metadata.get("tags", []) for c in nb.cells if c.cell_type == "code"), (
        f"{path.name}: no cell tagged 'reading'"
    )
    assert nb.cells[-1].cell_type == "markdown" and nb.cells[-1].source.startswith("## Exercises"), (
        f"{path.name}: end with '## Exercises'"
    )
    assert nb.cells[-1].source.count("What to look for") + nb.cells[-1].source.count("What to expect") >= 2, (
        f"{path.name}: state each exercise's expected outcome"
    )


def reading_texts(path: Path) -> dict[str, str]:
    """cell id -> stdout of every executed code cell tagged "reading" (what the reader sees)."""
    nb = nbformat.read(path, as_version=4)
    return {
        c.get("id", str(i)): "".join(
            o.get("text", "") for o in c.outputs if o.get("output_type") == "stream" and o.get("name") == "stdout"
        )
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and "reading" in c.metadata.get("tags", [])
    }


def assert_readings_follow_their_numbers(folder: Path) -> int:
    """No reading cell of the executed notebooks in `folder` states a direction its printed numbers
    contradict (test_prose.check_directions, the parser of prose.py's property tests), and
    every notebook's readings state at least one. Returns how many directions were checked."""
    total = 0
    for p in NOTEBOOKS:
        texts = reading_texts(folder / p.name)
        found = sum(check_directions(text) for text in texts.values())
        assert found >= 1, f"{p.name}: its reading cells stated no comparison: {texts}"
        total += found
    return total


def test_the_reading_check_catches_a_contradiction(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print(...)")
    cell.metadata["tags"] = ["reading"]
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="By OA, BDGF (90.1) is above RF (91.0) by 0.9 points.")
    ]
    nb.cells = [cell]
    for p in NOTEBOOKS:
        nbformat.write(nb, tmp_path / p.name)
    with pytest.raises(AssertionError):
        assert_readings_follow_their_numbers(tmp_path)


def test_select_notebooks_by_number():
    assert select_notebooks("00") == NOTEBOOKS[:1]
    with pytest.raises(ConfigError, match="no notebook numbered '42'"):
        select_notebooks("42")


def test_runner_stops_on_a_failing_notebook_and_keeps_it(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('dataset = "x"\nquick = True\nseed = 0\nout_dir = "."')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("raise RuntimeError('boom in cell')")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "00_fails.ipynb")
    with pytest.raises(
        SystemExit,
        match=r"00_fails.ipynb failed in the cell starting \"raise "
        r"RuntimeError\('boom in cell'\)\": RuntimeError: boom in cell",
    ):
        run_dataset(RunConfig(RunParameters(dataset="synthetic", quick=True), out=tmp_path / "out", folder=folder))
    assert (tmp_path / "out" / "00_fails.ipynb").exists()
    assert not (tmp_path / "out" / "summary.json").exists()


@pytest.mark.skipif(os.name == "nt", reason="ZeroMQ has no IPC transport on Windows: kernels keep TCP there")
def test_kernels_listen_on_private_sockets_not_tcp(tmp_path, monkeypatch, capfd):
    """bdgf-run's kernels talk over Unix sockets in a temporary folder of their own, removed
    after the notebook: no localhost TCP port, no ipykernel warning about unencrypted TCP."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "from ipykernel.kernelapp import IPKernelApp\napp = IPKernelApp.instance()\nprint(app.transport, app.ip)"
        )
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "probe.ipynb")
    execute_notebook(tmp_path / "probe.ipynb", tmp_path / "probe_out.ipynb", {})
    printed = nbformat.read(tmp_path / "probe_out.ipynb", as_version=4).cells[0].outputs[0]["text"]
    transport, ip = printed.split()
    assert transport == "ipc" and ip.startswith(str(tmp_path / "tmp" / "bdgf-kernel-"))
    assert list((tmp_path / "tmp").iterdir()) == [], "the socket folder outlived the notebook"
    assert "without encryption" not in capfd.readouterr().err


def test_runner_passes_seeds_to_notebook_03_only(tmp_path, monkeypatch):
    """`--seeds N` reaches the multi-seed notebook; the others never see an unknown parameter."""
    import bdgf_nb.cli.run as run

    seen: dict[str, dict] = {}
    monkeypatch.setattr(
        run, "execute_notebook", lambda path, target, parameters: seen.__setitem__(path.name[:2], parameters)
    )
    summary = run_dataset(
        RunConfig(RunParameters(dataset="synthetic", quick=True, seeds=3), out=tmp_path, notebooks="00,03")
    )
    assert seen["03"]["seeds"] == 3 and "seeds" not in seen["00"]
    assert json.loads(Path(summary).read_text())["seeds"] == 3
    with pytest.raises(ConfigError, match="RunParameters.seeds: expected an integer >= 0, found -1"):
        RunParameters(seeds=-1)


@pytest.mark.slow(seconds=568)
def test_all_notebooks_run_in_quick_mode(tmp_path):
    summary_path = run_dataset(RunConfig(RunParameters(dataset="synthetic", quick=True), out=tmp_path))
    summary = json.loads(Path(summary_path).read_text())
    assert summary["dataset"] == "synthetic"
    assert set(summary["notebook_seconds"]) == {p.stem for p in NOTEBOOKS}
    assert summary["00_data"]["baselines"], "notebook 00 recorded no baseline rows"
    balance = summary["01_pretraining"]["balance"]
    assert set(balance) == {"none", "random_matched", "adaptive"} and all(
        "dominance_gap" in v for v in balance.values()
    )
    assert {r["masking"] for r in summary["01_pretraining"]["feature_balance"]} == {
        "none",
        "random_matched",
        "adaptive",
    }
    assert "warnings" in summary["00_data"]["split"] and summary["00_data"]["modality_information"]
    leakage = {r["split"]: r["test_share_window_has_train"] for r in summary["00_data"]["split_leakage"]}
    assert leakage == {"leak-free (disjoint)": 0.0, "random (leaky twin)": leakage["random (leaky twin)"]}
    assert leakage["random (leaky twin)"] > 0.5  # a random split's test pixels sit among training pixels
    assert {r["features"] for r in summary["01_pretraining"]["linear_probe"]} >= {"raw pixel", "diffusion (adaptive)"}
    assert len(summary["02_branches"]["rows"]) == 6
    methods = {r["method"] for r in summary["03_mutual_learning"]["rows"]}
    assert {
        "BDGF",
        "no guidance",
        "no mutual learning",
        "no masking (DDPM trained without)",
        "random masking at the adaptive rate",
        "BDGF, ensemble rule chosen on validation",
        "RF (patch stats)",
    } <= methods
    assert all(
        "val_overall_accuracy" in r
        for r in summary["03_mutual_learning"]["rows"]
        if r["family"] == "BDGF / ablation" and "rule" not in r
    )
    assert (tmp_path / "class_map.npy").exists() and (tmp_path / "maps").is_dir()
    assert all(0 <= r["overall_accuracy"] <= 100 for r in summary["03_mutual_learning"]["rows"])
    complementarity = summary["04_interpretation"]["complementarity"]
    assert 0 <= complementarity["mean_cka"] <= 1 and "ensemble_gain" in complementarity
    for p in NOTEBOOKS:
        assert (tmp_path / p.name).exists()
    assert NOTEBOOK_DIR.is_dir()
    assert_readings_follow_their_numbers(tmp_path)


@pytest.mark.slow(seconds=542)
def test_readings_follow_their_numbers_on_a_second_seed(tmp_path):
    """Issue 17: a rerun on another seed rewrites the reading cells instead of contradicting its
    own outputs. Run with `--jobs 2`, so it also covers bdgf-run's scheduling: notebook 03's
    DDPMs and runs are trained first in two worker processes, every task succeeds, and the
    notebooks reload them."""
    summary = json.loads(
        Path(
            run_dataset(RunConfig(RunParameters(dataset="synthetic", quick=True, seed=1), out=tmp_path, jobs=2))
        ).read_text()
    )
    assert summary["seed"] == 1
    assert (
        summary["jobs"] == 2 and summary["scheduled"]["failed"] == [] and summary["scheduled"]["tasks"] == 3 + 9 + 1
    )  # DDPMs, trainings, the seed's baselines
    checked = assert_readings_follow_their_numbers(tmp_path)
    print(f"seed 1: {checked} directions checked in the reading cells")
