"""`bdgf-run --jobs N` runs the notebooks N at a time: each after the notebooks it reads
(NOTEBOOK_NEEDS), each kernel on one thread without the OpenMP spin, and a failing notebook
ends the run naming its cell, with what waited for it left unrun. Real papermill kernels on
tiny notebooks in a folder of their own (RunConfig.folder), so no model is trained."""

import json
from pathlib import Path

import nbformat
import pytest

from bdgf_nb.cli.run import NOTEBOOK_DIR, RunConfig, notebook_paths, notebook_tasks, run_dataset

PARAMETERS = 'dataset = "synthetic"\nquick = True\nseed = 0\nout_dir = "."'
# Each tiny notebook writes when it started and ended and the thread settings its kernel saw.
BODY = """
import json, os, time
from pathlib import Path
start = time.time()
{work}
Path(out_dir, "{name}.json").write_text(json.dumps({{"start": start, "end": time.time(),
    "threads": os.environ.get("OMP_NUM_THREADS"), "spin": os.environ.get("GOMP_SPINCOUNT")}}))
"""


def write_notebooks(folder: Path, works: dict[str, str]) -> None:
    folder.mkdir()
    for name, work in works.items():
        nb = nbformat.v4.new_notebook()
        nb.cells = [
            nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell(BODY.format(work=work, name=name)),
        ]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / f"{name}.ipynb")


def test_notebooks_wait_for_what_they_read_and_the_longest_chain_starts_first(tmp_path: Path) -> None:
    paths = notebook_paths(NOTEBOOK_DIR)
    tasks = {t.key[:2]: t for t in notebook_tasks(paths, tmp_path, {p.name: {} for p in paths})}
    assert tasks["04"].after == (tasks["01"].key, tasks["03"].key) and set(tasks["05"].after) == {
        tasks[n].key for n in ("00", "01", "02", "03", "04")
    }
    assert all(tasks[n].after == () for n in ("00", "01", "02", "03"))
    first_two = sorted(tasks.values(), key=lambda t: -t.cost)[:2]  # 01 and 03 start together: 04 waits for both
    assert {t.key[:2] for t in first_two} == {"01", "03"}
    chosen = [p for p in paths if p.name[:2] in ("02", "04", "05")]  # 03 not chosen: 04 needs nothing
    tasks = {t.key[:2]: t for t in notebook_tasks(chosen, tmp_path, {p.name: {} for p in chosen})}
    assert tasks["04"].after == () and set(tasks["05"].after) == {tasks["02"].key, tasks["04"].key}


@pytest.mark.timeout(600)
def test_side_by_side_notebooks_run_in_order_on_one_thread_each(tmp_path: Path) -> None:
    folder, out = tmp_path / "notebooks", tmp_path / "out"
    write_notebooks(folder, {"00_a": "time.sleep(3)", "01_b": "time.sleep(3)", "05_c": "pass"})
    summary = json.loads(Path(run_dataset(RunConfig(folder=folder, out=out, jobs=2))).read_text())
    seen = {name: json.loads((out / f"{name}.json").read_text()) for name in ("00_a", "01_b", "05_c")}
    assert seen["05_c"]["start"] >= max(seen["00_a"]["end"], seen["01_b"]["end"])  # 05 reads the others' records
    assert seen["00_a"]["start"] < seen["01_b"]["end"] and seen["01_b"]["start"] < seen["00_a"]["end"]  # side by side
    assert all(s["threads"] == "1" and s["spin"] is None for s in seen.values())
    assert set(summary["notebook_seconds"]) == {"00_a", "01_b", "05_c"} and summary["jobs"] == 2


@pytest.mark.timeout(600)
def test_a_failing_notebook_ends_the_run_with_its_cell_and_leaves_what_needs_it_unrun(tmp_path: Path) -> None:
    folder, out = tmp_path / "notebooks", tmp_path / "out"
    write_notebooks(folder, {"00_a": "pass", "01_b": "raise ValueError('bad scene')", "05_c": "pass"})
    with pytest.raises(SystemExit) as exit_info:
        run_dataset(RunConfig(folder=folder, out=out, jobs=2))
    message = str(exit_info.value)
    assert "01_b.ipynb failed in the cell starting 'import json, os, time': ValueError: bad scene" in message
    assert "not run or failed too: ['05_c.ipynb']" in message and str(out / "01_b.ipynb") in message
    assert (out / "00_a.json").exists() and not (out / "05_c.json").exists() and not (out / "summary.json").exists()
