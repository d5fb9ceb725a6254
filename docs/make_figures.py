"""Export one figure per executed notebook to docs/figures/*.png for the README tour.

Usage: python docs/make_figures.py outputs/synthetic   (a folder written by `make run`)
       python docs/make_figures.py --label-efficiency  (docs/figures/label_efficiency.png, from the
       stored studies in results/label_efficiency/: `pipeline.stored_results`)
Renders the stored plotly JSON of the chosen output in headless Chromium (Debian's
/usr/bin/chromium via Playwright, as the browser tests do; nothing is downloaded).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import nbformat
import plotly.io as pio
from plotly.offline import get_plotlyjs

# notebook stem -> (index of the plotly output to export, counted over the notebook, file name)
CHOICES = {
    "00_data_and_modality_imbalance": (0, "00_scene.png"),
    "01_masked_ddpm_pretraining": (0, "01_balance.png"),
    "02_guided_branches": (0, "02_guidance.png"),
    "03_mutual_learning": (1, "03_maps.png"),
    "04_interpretation": (3, "04_tsne.png"),
    "05_results": (0, "05_results.png"),
}
CHROME_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def plotly_outputs(path: Path) -> list[dict]:
    nb = nbformat.read(path, as_version=4)
    return [
        o["data"]["application/vnd.plotly.v1+json"]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if "application/vnd.plotly.v1+json" in o.get("data", {})
    ]


def render(figures: dict[str, object], out_dir: str = "docs/figures", chromium: str = "/usr/bin/chromium") -> None:
    """file name -> plotly figure, each written as a PNG screenshot of the figure in Chromium."""
    from playwright.sync_api import sync_playwright

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROME_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 700})
        for name, fig in figures.items():
            html = Path(tmp) / f"{name}.html"
            html.write_text(
                f"<html><head><script>{get_plotlyjs()}</script></head><body style='margin:0'>"
                f"{fig.to_html(full_html=False, include_plotlyjs=False, div_id='fig')}</body></html>"  # type: ignore[attr-defined]
            )
            page.goto(html.as_uri())
            page.wait_for_selector("#fig .main-svg")
            page.locator("#fig").screenshot(path=str(out / name))
            print("wrote", out / name)
        browser.close()


def notebook_figures(run_dir: str) -> dict[str, object]:
    figures = {}
    for stem, (index, name) in CHOICES.items():
        found = plotly_outputs(Path(run_dir) / f"{stem}.ipynb")
        if len(found) <= index:
            print(f"skip {stem}: {len(found)} plotly outputs")
            continue
        figures[name] = pio.from_json(json.dumps(found[index]))
    return figures


def label_efficiency_figure() -> dict[str, object]:
    """The README's label-efficiency figure: every stored study (the synthetic default, houston2018_west,
    idtrees_mlbs; the whole-scene variant left out), one panel each."""
    from bdgf_nb.pipeline.stored_results import label_efficiency_curves, label_efficiency_studies
    from bdgf_nb.presentation.viz import label_efficiency_panels

    studies = {name: s for name, s in label_efficiency_studies().items() if not name.endswith("_scene")}
    curves = {
        f"{name} ({s['preset']}, {len(s['seeds'])} seeds)": label_efficiency_curves(s) for name, s in studies.items()
    }
    title = "Test OA against labelled pixels per class (mean, 95 % CI over paired seeds)"
    return {"label_efficiency.png": label_efficiency_panels(curves, title)}


if __name__ == "__main__":
    if sys.argv[1:] == ["--label-efficiency"]:
        render(label_efficiency_figure())
    else:
        render(notebook_figures(sys.argv[1]), *sys.argv[2:])
