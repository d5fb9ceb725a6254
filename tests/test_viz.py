"""Figures a reader can read (viz.py): semantic class colours with a legend, colour bars with
units, axis titles everywhere, bar axes zoomed to the differences."""

import html
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb

from bdgf_nb.data.scene import Scene
from bdgf_nb.presentation import viz

HOUSTON2013 = [
    "Healthy grass",
    "Stressed grass",
    "Synthetic grass",
    "Trees",
    "Soil",
    "Water",
    "Residential",
    "Commercial",
    "Road",
    "Highway",
    "Railway",
    "Parking Lot 1",
    "Parking Lot 2",
    "Tennis Court",
    "Running Track",
]


def family(colour: str) -> str:
    """Which hue family an RGB colour falls in (by its dominant channel and brightness)."""
    r, g, b = to_rgb(colour)
    if max(r, g, b) - min(r, g, b) < 0.05:
        return "grey"
    if b > r and b > g:
        return "blue"
    if g > r and g > b:
        return "green"
    return "red" if r > 0.7 and g < 0.65 else "brown"


def test_semantic_colours_follow_the_class_names():
    colours = dict(zip(HOUSTON2013, viz.class_colours(HOUSTON2013), strict=True))
    assert len(set(colours.values())) == len(HOUSTON2013)  # every class tells apart
    for name in ("Healthy grass", "Stressed grass", "Synthetic grass", "Trees"):
        assert family(colours[name]) == "green", name
    assert family(colours["Water"]) == "blue" and family(colours["Soil"]) == "brown"
    for name in ("Road", "Highway", "Railway", "Parking Lot 1", "Parking Lot 2", "Tennis Court", "Running Track"):
        assert family(colours[name]) == "grey", name
    for name in ("Residential", "Commercial"):
        assert family(colours[name]) == "red", name


def test_unknown_names_and_overfull_families_fall_back_to_distinct_colours():
    names = [f"class {k}" for k in range(1, 13)] + [f"grass {k}" for k in range(10)]
    colours = viz.class_colours(names)
    assert len(set(colours)) == len(names)
    assert viz.class_colours(names) == colours  # deterministic: the same class, the same colour


def test_label_maps_carry_a_legend_of_class_names_in_the_map_colours():
    names = ["trees", "water", "road"]
    labels = np.array([[0, 1], [2, 3]])
    fig = viz.label_maps({"ground truth": labels, "BDGF": labels}, names)
    legend = [t for t in fig.data if t.type == "scatter" and t.showlegend]
    assert [t.name for t in legend] == [*names, "unlabelled"]
    assert [t.marker.color for t in legend] == [*viz.class_colours(names), "#000000"]
    scale = fig.data[0].colorscale  # class k's band of the discrete colourscale has its legend colour
    for k, colour in enumerate(viz.class_colours(names), start=1):
        assert scale[2 * k][1] == colour
    assert fig.layout.xaxis.title.text == "column" and fig.layout.yaxis.title.text == "row"


def scene(metadata=None):
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 4, size=(6, 7)).astype(np.int64)
    mods = {
        "hsi": rng.normal(size=(6, 7, 5)).astype(np.float32),
        "lidar": rng.normal(size=(6, 7, 1)).astype(np.float32),
    }
    return Scene("toy", mods, gt, ("trees", "water", "road"), metadata=metadata or {})


def test_scene_overview_colour_bar_names_the_unit():
    fig = viz.scene_overview(scene())
    heat = [t for t in fig.data if t.type == "heatmap" and t.showscale is not False]
    assert heat[0].colorbar.title.text == "lidar (m)"
    fig = viz.scene_overview(scene({"units": {"lidar": "DN 0-255"}}))
    assert [t for t in fig.data if t.type == "heatmap"][0].colorbar.title.text == "lidar (DN 0-255)"
    assert viz.unit_of("sar_vv") == "no unit recorded"
    assert [t.name for t in fig.data if t.type == "scatter"] == ["trees", "water", "road", "unlabelled"]


def axis_titles(fig):
    return {
        k: (fig.layout[k].title.text if fig.layout[k].title else None)
        for k in fig.layout
        if k.startswith(("xaxis", "yaxis"))
    }


def test_curves_have_axis_titles_everywhere():
    history = [{"epoch": e, "train_loss": 1.0 / (e + 1), "val_oa": 50.0 + e} for e in range(3)]
    titles = axis_titles(viz.training_curves({"a": history}))
    assert titles["yaxis"] == "training loss (CE + mutual terms)" and titles["yaxis2"] == "validation OA (%)"
    assert titles["xaxis"] == titles["xaxis2"] == "epoch"
    pre = [
        {
            "epoch": e,
            "loss_hsi": 0.2,
            "loss_lidar": 0.3,
            "p_mask_hsi": 0.1,
            "p_mask_lidar": 0.1,
            "reliance_hsi": 0.3,
            "reliance_lidar": 0.0,
            "dominance_gap": 0.3,
        }
        for e in range(2)
    ]
    titles = axis_titles(viz.pretraining_curves({"adaptive": pre}, ["hsi", "lidar"]))
    assert all(titles.values()) and len(titles) == 8 and titles["yaxis"] == "epsilon MSE"
    fig = viz.pretraining_curves({"adaptive": pre}, ["hsi", "lidar"])
    assert fig.layout.annotations[0].text == "training loss (visible modality)"  # no evaluation recorded
    evaluated = [{**h, "eval_loss_hsi": 0.5, "eval_loss_lidar": 0.6} for h in pre]
    fig = viz.pretraining_curves({"adaptive": evaluated}, ["hsi", "lidar"])
    assert fig.layout.annotations[0].text == "evaluation loss (held-out batch)"  # what chapter 01 reads
    assert fig.data[0].y == (0.5, 0.5)


@pytest.mark.parametrize("errors", [None, [0.4, 0.3, np.nan]])
def test_zoomed_range_covers_the_bars_and_their_errors_but_not_zero(errors):
    values = [96.4, 96.9, 95.3]
    lo, hi = viz.zoomed_range(values, errors)
    e = np.nan_to_num(np.asarray(errors if errors else [0, 0, 0], dtype=float))
    assert lo < min(np.subtract(values, e)) and hi > max(np.add(values, e))
    assert lo > 50.0  # a 0-100 axis would hide a 1.6-point spread
    assert (hi - lo) < 10.0


def test_bar_charts_zoom_and_draw_error_bars():
    rows = [
        {"method": m, "overall_accuracy": v, "overall_accuracy_std": s}
        for m, v, s in (("BDGF", 65.2, 0.4), ("no masking", 64.1, 0.6), ("RF", 62.0, float("nan")))
    ]
    fig = viz.metric_bars(rows, x="method", colour="method", error="overall_accuracy_std")
    lo, hi = fig.layout.yaxis.range
    assert 55 < lo < 61.4 and 65.6 < hi < 72 and "zoomed" in fig.layout.yaxis.title.text
    assert any(t.error_y.array is not None for t in fig.data)
    report = {
        "branch_accuracy": {"cnn": 96.4, "mamba": 94.0},
        "ensemble_accuracy": 95.3,
        "oracle_accuracy": 98.0,
        "best_branch": "cnn",
        "ensemble_gain": -1.1,
    }
    acc = viz.accuracy_bars(report)
    assert acc.layout.yaxis.range[0] > 80 and acc.layout.xaxis.title.text == "predictor"
    probe = viz.probe_bars([{"features": "raw 3x3", "overall_accuracy": 97.4, "average_accuracy": 96.0, "kappa": 96.5}])
    assert probe.layout.yaxis.range[0] > 80


def test_heatmaps_title_axes_and_colour_bars():
    cm = viz.confusion_heatmap(np.array([[5, 1], [2, 7]]), ["trees", "water"])
    assert cm.data[0].colorbar.title.text == "% of true class" and cm.layout.xaxis.title.text == "predicted class"
    pw = viz.pairwise_heatmap([[1.0, 0.8], [0.8, 1.0]], ["cnn", "mamba"], "CKA", measure="linear CKA")
    assert pw.data[0].colorbar.title.text == "linear CKA" and pw.layout.yaxis.title.text == "branch"


DIAGRAMS = Path(__file__).resolve().parents[1] / "docs" / "diagrams"


def svg_texts(svg: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def test_pipeline_diagram_names_every_step_and_existing_subpackage():
    svg = (DIAGRAMS / "pipeline.svg").read_text()
    text = " ".join(svg_texts(svg))
    for step in (
        "1. masked multimodal DDPM",
        "2. diffusion features",
        "3. guide k",
        "4. mutual learning",
        "5. evaluation",
    ):
        assert step in text, step
    named = set(re.findall(r"bdgf_nb\.(\w+)", text))
    assert {"data", "ddpm", "model", "train", "evaluate", "analysis", "presentation", "pipeline", "cli"} <= named
    package = Path(viz.__file__).resolve().parents[1]
    assert all((package / name).is_dir() for name in named), named


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` not installed")
def test_pipeline_svg_is_the_rendering_of_the_dot_source():
    rendered = subprocess.run(
        ["dot", "-Tsvg", str(DIAGRAMS / "pipeline.dot")], capture_output=True, text=True, check=True
    ).stdout
    assert svg_texts(rendered) == svg_texts((DIAGRAMS / "pipeline.svg").read_text()), (
        "re-render: see the header of pipeline.dot"
    )


def test_label_legends_name_the_unlabelled_and_turf_is_no_grass_green():
    names = ["grass", "trees", "synthetic turf", "water"]
    fig = viz.label_maps({"ground truth": np.array([[0, 1], [2, 3]])}, names)
    legend = [t.name for t in fig.data if t.showlegend]
    assert legend == [*names, "unlabelled"] and fig.data[-1].marker.color == "#000000"
    colours = dict(zip(names, viz.class_colours(names), strict=True))
    grass_family = next(shades for keys, shades in viz.SEMANTIC_FAMILIES if "grass" in keys)
    assert colours["synthetic turf"] not in grass_family  # not a shade of the grass greens
    assert viz.class_colours(["healthy grass", "artificial turf"])[1] == "#35978f"


def test_every_figure_is_titled_and_every_colour_bar_named():
    rows = [{"method": "a", "overall_accuracy": 90.0}, {"method": "b", "overall_accuracy": 80.0}]
    assert viz.metric_bars(rows, x="method", colour="method").layout.title.text == "overall accuracy by method"
    assert viz.metric_bars(rows, x="method", colour="method", title="t").layout.title.text == "t"
    fig = viz.pairwise_heatmap([[1.0, 0.5], [0.5, 1.0]], ["a", "b"], "linear CKA between branches (1 = same)")
    assert fig.data[0].colorbar.title.text == "linear CKA between branches"
