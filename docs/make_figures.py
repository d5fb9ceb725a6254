"""Export one figure per executed notebook to docs/figures/*.png for the README tour.

Usage: python docs/make_figures.py outputs/synthetic   (a folder written by `make run`)
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


def main(run_dir: str, out_dir: str = "docs/figures", chromium: str = "/usr/bin/chromium") -> None:
    from playwright.sync_api import sync_playwright

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROME_ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 700})
        for stem, (index, name) in CHOICES.items():
            figures = plotly_outputs(Path(run_dir) / f"{stem}.ipynb")
            if len(figures) <= index:
                print(f"skip {stem}: {len(figures)} plotly outputs")
                continue
            fig = pio.from_json(json.dumps(figures[index]))
            html = Path(tmp) / f"{stem}.html"
            html.write_text(
                f"<html><head><script>{get_plotlyjs()}</script></head><body style='margin:0'>"
                f"{fig.to_html(full_html=False, include_plotlyjs=False, div_id='fig')}</body></html>"
            )
            page.goto(html.as_uri())
            page.wait_for_selector("#fig .main-svg")
            page.locator("#fig").screenshot(path=str(out / name))
            print("wrote", out / name)
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
