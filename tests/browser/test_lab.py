"""The notebooks as a person sees them: JupyterLab in headless Chromium, synthetic scene, quick mode.

Run with `make test-browser` (installs chromium and playwright when missing). Screenshots of each
step land in outputs/browser/ (or $BDGF_BROWSER_OUT).
"""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jlab import (
    CURRENT,
    LabServer,
    error_outputs,
    open_notebook,
    plotly_output_count,
    run_all_cells,
    save_and_read,
    shot,
)

from bdgf_nb.cli.run import NOTEBOOK_DIR

pytestmark = pytest.mark.browser

NB00 = "00_data_and_modality_imbalance.ipynb"
NB01 = "01_masked_ddpm_pretraining.ipynb"
NB04 = "04_interpretation.ipynb"
# Run All Cells limit per notebook; a shared, busy CI machine can be several times slower
RUN_TIMEOUT_MS = int(float(os.environ.get("BDGF_BROWSER_RUN_TIMEOUT", "1200")) * 1000)
PLACEHOLDERS = ("Loading widget...", "Error displaying widget")


def run_notebook(page: Any, lab: LabServer, name: str, out: Path) -> dict[str, Any]:
    """Open, screenshot, Run All Cells, save; assert every cell ran without an error output."""
    stem = name[:2]
    open_notebook(page, lab, name)
    shot(page, out / f"{stem}_opened.png")
    start = time.perf_counter()
    prompts = run_all_cells(page, RUN_TIMEOUT_MS)
    print(f"[browser] {name}: all cells ran in {time.perf_counter() - start:.0f} s")
    nb = save_and_read(page, lab, name)
    shot(page, out / f"{stem}_ran.png")
    errors = error_outputs(nb)
    assert not errors, f"{name}: error outputs in JupyterLab: {errors}"
    assert all(re.fullmatch(r"\[\d+\]:", p) for p in prompts), f"{name}: cells left unexecuted: {prompts}"
    counts = [c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code"]
    assert None not in counts, f"{name}: the saved notebook lacks execution counts {counts}: saving failed?"
    return nb


def png_array(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int16)


def check_plotly_figures(page: Any, nb: dict[str, Any], stem: str, out: Path) -> None:
    """Every plotly output is an interactive plot in the page, and one of them answers a hover."""
    expected = plotly_output_count(nb)
    assert expected >= 1, f"{stem}: the notebook showed no plotly figure (application/vnd.plotly.v1+json)"
    plots = page.locator(f"{CURRENT} .jp-OutputArea-output.jp-RenderedPlotly.js-plotly-plot")
    page.wait_for_function(
        f"n => document.querySelectorAll('{CURRENT} .jp-RenderedPlotly.js-plotly-plot .main-svg').length >= n", arg=expected, timeout=60_000
    )
    assert plots.count() == expected, f"{stem}: {expected} plotly outputs but {plots.count()} plotly plots in the page"
    shot(plots.first, out / f"{stem}_plot_first.png")
    for k in range(plots.count()):
        plot = plots.nth(k)
        plot.scroll_into_view_if_needed()
        drag = plot.locator(".nsewdrag").first
        box = drag.bounding_box() if drag.count() else None
        if box is None:
            continue
        for fx, fy in [(0.5, 0.5), (0.25, 0.5), (0.75, 0.5), (0.5, 0.25), (0.5, 0.75), (0.3, 0.8), (0.7, 0.8)]:
            page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"], steps=4)
            try:
                plot.locator(".hoverlayer .hovertext").first.wait_for(state="visible", timeout=1_500)
            except Exception:  # no label under this point: try the next one
                continue
            shot(plot, out / f"{stem}_plot_hover.png")
            return
    raise AssertionError(f"{stem}: no plotly figure showed a hover label")


def test_notebook_01_runs_and_the_mask_panel_reacts_to_its_slider(page, lab, browser_out):
    nb = run_notebook(page, lab, NB01, browser_out)
    assert any(
        "application/vnd.jupyter.widget-view+json" in o.get("data", {}) for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])
    ), "notebook 01 displayed no widget"
    panel = page.locator(f"{CURRENT} .jp-OutputArea-output").filter(has=page.locator(".widget-slider")).last
    panel.wait_for(timeout=60_000)
    panel.scroll_into_view_if_needed()
    image = panel.locator("img.widget-image").first
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle(), timeout=60_000)
    shot(panel, browser_out / "01_panel_before.png")
    outputs_text = " ".join(page.locator(f"{CURRENT} .jp-OutputArea-output").all_inner_texts())
    for placeholder in PLACEHOLDERS:
        assert placeholder not in outputs_text, f"the widget panel shows the placeholder {placeholder!r}"
    sliders = panel.locator(".widget-slider")
    assert sliders.count() >= 3 and all(sliders.nth(k).is_visible() for k in range(sliders.count())), "panel sliders not visible"

    mask = panel.locator(".widget-slider").filter(has=page.locator(".widget-label", has_text=re.compile(r"^mask"))).first
    readout, before_value = mask.locator(".widget-readout"), mask.locator(".widget-readout").inner_text()
    before_png, before_src = image.screenshot(), image.get_attribute("src")
    before_text = panel.locator(".widget-html").last.inner_text()

    # a person drags the handle of the first mask-ratio slider to the far end
    handle, track = mask.locator(".noUi-handle").first, mask.locator(".noUi-target").first
    hb, tb = handle.bounding_box(), track.bounding_box()
    assert hb and tb
    far_end = tb["x"] + (2 if hb["x"] + hb["width"] / 2 > tb["x"] + tb["width"] / 2 else tb["width"] - 2)
    page.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
    page.mouse.down()
    page.mouse.move(far_end, hb["y"] + hb["height"] / 2, steps=12)
    page.mouse.up()
    assert readout.inner_text() != before_value, f"the slider readout stayed at {before_value}: the drag did not move the slider"
    try:  # the kernel answers with a new PNG (a new blob URL) unless the callback is broken
        page.wait_for_function("([img, src]) => img.src !== src && img.complete", arg=[image.element_handle(), before_src], timeout=30_000)
    except Exception:
        pass
    time.sleep(0.5)
    after_png = image.screenshot()
    shot(panel, browser_out / "01_panel_after.png")
    (browser_out / "01_image_before.png").write_bytes(before_png)
    (browser_out / "01_image_after.png").write_bytes(after_png)

    a, b = png_array(before_png), png_array(after_png)
    assert a.shape == b.shape, f"the image changed size: {a.shape} -> {b.shape}"
    recon = slice(2 * a.shape[1] // 3, None)  # right column of the grid: the reconstructions
    changed = float(np.mean(np.abs(a[:, recon] - b[:, recon]).max(axis=-1) > 8))
    print(f"[browser] mask slider {before_value} -> {readout.inner_text()}: {changed:.1%} of the reconstruction pixels changed")
    assert changed > 0.01, f"moving the mask slider {before_value} -> {readout.inner_text()} left the reconstruction image unchanged ({changed:.2%} pixels)"
    assert panel.locator(".widget-html").last.inner_text() != before_text, "the MSE readout did not change"


def test_notebook_00_plotly_figures_are_interactive(page, lab, browser_out):
    nb = run_notebook(page, lab, NB00, browser_out)
    check_plotly_figures(page, nb, "00", browser_out)


def test_notebook_04_plotly_figures_are_interactive(page, lab, browser_out):
    if not (NOTEBOOK_DIR / NB04).exists():
        pytest.skip(f"notebooks/{NB04} does not exist yet")
    nb = run_notebook(page, lab, NB04, browser_out)
    check_plotly_figures(page, nb, "04", browser_out)
