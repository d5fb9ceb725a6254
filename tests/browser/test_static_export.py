"""Executed notebooks for static viewing: `bdgf-run` keeps the ipywidgets state and plotly figures
survive `jupyter nbconvert --to html`.

The first test is an ordinary one (a tiny notebook, ~15 s, part of `make test`); the second runs
the real notebooks 00 and 01 and opens their HTML export in Chromium (`make test-browser`).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from bdgf_nb.cli.run import RunConfig, run_dataset
from bdgf_nb.pipeline.parameters import RunParameters

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PLOTLY = "application/vnd.plotly.v1+json"

TINY_PANEL = """\
import numpy as np
import plotly.express as px
import torch

from bdgf_nb.ddpm.diffusion import DiffusionConfig, GaussianDiffusion
from bdgf_nb.ddpm.unet import DenoiserUNet, UNetConfig
from bdgf_nb.presentation.widgets import build_mask_panel

torch.manual_seed(seed)
groups = {"hsi": 8, "lidar": 1}
ddpm = GaussianDiffusion(DenoiserUNet(UNetConfig(in_channels=9, base_width=8, \
num_res_blocks=1, modality_channels=(8, 1))), DiffusionConfig(T=100), groups)
patches = np.random.default_rng(seed).normal(size=(2, 9, 11, 11)).astype(np.float32)
px.scatter(x=[1, 2, 3], y=[3, 1, 2], title="tiny plotly figure").show()
panel = build_mask_panel(ddpm, patches, groups, seed=seed)
panel.sliders["lidar"].value = 0.5  # the stored state is the last one
panel
"""


def tiny_notebook(folder: Path) -> Path:
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('dataset = "synthetic"\nquick = False\nseed = 0\nout_dir = "."')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(TINY_PANEL)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "00_tiny_panel.ipynb"
    nbformat.write(nb, path)
    return path


def outputs(nb: Any) -> list[Any]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def check_widget_state(nb: Any) -> dict[str, Any]:
    """Every displayed widget's model is in the stored state, with the image's PNG buffer."""
    views = [o.data[WIDGET_VIEW]["model_id"] for o in outputs(nb) if WIDGET_VIEW in o.get("data", {})]
    assert views, "no widget displayed"
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    assert state, "executed notebook has no widget state in metadata.widgets"
    missing = [v for v in views if v not in state]
    assert not missing, f"displayed widgets without stored state: {missing}"
    kinds = [m["model_name"] for m in state.values()]
    assert "VBoxModel" in kinds and kinds.count("FloatSliderModel") >= 1 and "IntSliderModel" in kinds, kinds
    images = [m for m in state.values() if m["model_name"] == "ImageModel"]
    assert images, "no Image widget in the stored state"
    buffers = {tuple(b["path"]): b for m in images for b in m.get("buffers", [])}
    assert ("value",) in buffers, "the Image widget's PNG bytes were not stored"
    assert base64.b64decode(buffers[("value",)]["data"])[:8] == b"\x89PNG\r\n\x1a\n"
    return state


def check_plotly_outputs(nb: Any) -> int:
    figures = [o for o in outputs(nb) if PLOTLY in o.get("data", {})]
    assert figures, "no plotly figure in the executed notebook"
    assert all("text/html" in o.data for o in figures), (
        "plotly outputs lack text/html: HTML exports would show no figure"
    )
    return len(figures)


def export_html(notebook: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(notebook)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    html = notebook.with_suffix(".html")
    assert html.exists()
    return html


def check_html(html_path: Path, n_figures: int, widget_ids: list[str]) -> str:
    html = html_path.read_text(encoding="utf-8")
    divs = len(re.findall(r'class="plotly-graph-div"', html))
    assert divs == n_figures, f"{html_path.name}: {n_figures} plotly figures but {divs} plotly-graph-div in the HTML"
    assert html.count("Plotly.newPlot(") >= n_figures
    assert re.search(r"plotly\.js v\d", html), "plotly.js is not inlined: the HTML would need a CDN"
    if widget_ids:
        match = re.search(rf'<script type="{re.escape(WIDGET_STATE)}">(.*?)</script>', html, flags=re.S)
        assert match, f"{html_path.name}: no widget state script in the HTML"
        stored = json.loads(match.group(1))["state"]
        assert all(w in stored for w in widget_ids)
        assert all(w in html for w in widget_ids)
    return html


def test_tiny_executed_notebook_keeps_widget_state_and_exports_plotly_html(tmp_path):
    folder = tmp_path / "nbs"
    tiny_notebook(folder)
    run_dataset(RunConfig(RunParameters(dataset="synthetic", quick=True), out=tmp_path / "out", folder=folder))
    executed = tmp_path / "out" / "00_tiny_panel.ipynb"
    nb = nbformat.read(executed, as_version=4)
    state = check_widget_state(nb)
    sliders = {
        m["state"]["description"]: m["state"]["value"] for m in state.values() if m["model_name"] == "FloatSliderModel"
    }
    assert sliders == {"mask hsi": 1.0, "mask lidar": 0.5}, sliders
    n = check_plotly_outputs(nb)
    views = [o.data[WIDGET_VIEW]["model_id"] for o in outputs(nb) if WIDGET_VIEW in o.get("data", {})]
    check_html(export_html(executed), n, views)


@pytest.mark.browser
def test_real_notebooks_export_to_html_with_figures_and_widget_state(executed, chromium, browser_out):
    out = executed  # bdgf-run --quick --notebooks 00,01 (conftest)
    for name in ("00_data_and_modality_imbalance", "01_masked_ddpm_pretraining"):
        nb = nbformat.read(out / f"{name}.ipynb", as_version=4)
        n = check_plotly_outputs(nb)
        views = []
        if name.startswith("01"):
            check_widget_state(nb)
            views = [o.data[WIDGET_VIEW]["model_id"] for o in outputs(nb) if WIDGET_VIEW in o.get("data", {})]
        html = export_html(out / f"{name}.ipynb")
        check_html(html, n, views)
        # the export renders its figures offline: every non-file request is refused
        context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        try:
            context.route(re.compile(r"^(?!file:).*"), lambda route: route.abort())
            page = context.new_page()
            page.goto(html.as_uri())
            page.wait_for_function(
                "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n", arg=n, timeout=60_000
            )
            assert page.locator(".js-plotly-plot").count() == n
            first = page.locator(".js-plotly-plot").first
            first.scroll_into_view_if_needed()
            first.screenshot(path=str(browser_out / f"{name[:2]}_html_export_plot.png"))
        finally:
            context.close()
