"""Plotly figures the notebooks show (interactive in JupyterLab, rendered in HTML exports).

Figures only: every number drawn here is computed elsewhere in the library. Made to be read:
classes keep one semantic colour everywhere (`class_colours`: vegetation greens,
water blue, built-up greys/reds, bare soil browns, picked by keywords in the class name; other
names get distinct fallback colours) and label maps carry a legend of class names; colour bars
name their unit (`units`, DSM in m); every axis has a title; bar charts draw error bars where
given and zoom the value axis to the differences (`zoomed_range`), saying so in the axis title.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bdgf_nb.data.scene import PixelScene, Scene
from bdgf_nb.errors import DataError, expect
from bdgf_nb.metrics import METRICS

PALETTE = px.colors.qualitative.Alphabet + px.colors.qualitative.Dark24
METHOD_COLOURS = px.colors.qualitative.D3  # ten colours far apart: curves of a handful of methods

# Semantic families: (keywords in a lower-cased class name, shades handed out in order). The
# first family with a matching keyword wins, built-up first: "parking lot" is grey, not a park.
SEMANTIC_FAMILIES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("water", "river", "lake", "sea", "pond", "canal"), ("#1f78b4", "#6baed6", "#08519c")),
    (
        ("road", "highway", "railway", "parking", "street", "pavement", "asphalt", "track", "court", "runway"),
        ("#636363", "#969696", "#252525", "#bdbdbd", "#4d4d4d", "#d9d9d9", "#737373"),
    ),
    (
        ("roof", "building", "residential", "commercial", "industrial", "urban", "house", "built"),
        ("#e31a1c", "#fb9a99", "#a50f15", "#ef3b2c", "#fc9272", "#67000d"),
    ),
    (("tree", "forest", "wood", "shrub"), ("#006d2c", "#00441b", "#238b45")),  # tall vegetation: dark greens
    (("turf", "artificial"), ("#35978f", "#80cdc1")),  # man-made "grass": teal, never a shade of the grass greens
    (
        ("grass", "turf", "vegetation", "meadow", "crop", "farm", "agricult", "plant", "field"),
        ("#74c476", "#b2df8a", "#33a02c", "#a1d99b", "#c7e9c0", "#41ab5d"),
    ),
    (("soil", "bare", "sand", "dirt", "earth", "fallow"), ("#8c510a", "#bf812d", "#dfc27d", "#543005")),
)
FALLBACK = [*px.colors.qualitative.Bold, *px.colors.qualitative.Vivid, *PALETTE]
# Units of auxiliary modalities by name, unless the scene's metadata["units"] says otherwise.
DEFAULT_UNITS = {"lidar": "m", "dsm": "m", "chm": "m", "height": "m", "sar": "dB"}


def class_colours(class_names: Sequence[str]) -> list[str]:
    """One colour per class (class k, 0-based, at index k): the next shade of the first semantic
    family whose keyword occurs in the name, else the next fallback colour not used yet."""
    used = [0] * len(SEMANTIC_FAMILIES)
    colours: list[str | None] = []
    for name in class_names:
        lower = name.lower()
        family = next((i for i, (keys, _) in enumerate(SEMANTIC_FAMILIES) if any(k in lower for k in keys)), None)
        shades = SEMANTIC_FAMILIES[family][1] if family is not None else ()
        if family is not None and used[family] < len(shades):
            colours.append(shades[used[family]])
            used[family] += 1
        else:
            colours.append(None)
    spare = iter(c for c in FALLBACK if c not in colours)
    return [c if c is not None else next(spare) for c in colours]


def unit_of(name: str, units: Mapping[str, str] | None = None) -> str:
    """Unit of modality `name`: `units[name]`, else DEFAULT_UNITS by name, else 'no unit recorded'."""
    return (units or {}).get(name) or DEFAULT_UNITS.get(name.lower(), "no unit recorded")


def zoomed_range(
    values: Sequence[float], errors: Sequence[float] | None = None, pad: float = 0.25, floor: float = 0.5
) -> tuple[float, float]:
    """Value-axis range around [min(v - e), max(v + e)] padded by `pad` of the span (at least
    `floor`), so 1-3 point differences between bars are visible. NaN errors (one seed) count 0."""
    v = np.asarray(values, dtype=np.float64)
    e = np.nan_to_num(np.asarray(errors, dtype=np.float64), nan=0.0) if errors is not None else np.zeros_like(v)
    expect(
        v.size >= 1 and v.shape == e.shape,
        DataError,
        f"zoomed_range needs values and errors of one shape, found {v.shape} and {e.shape}",
    )
    lo, hi = float(np.nanmin(v - e)), float(np.nanmax(v + e))
    margin = max(pad * (hi - lo), floor)
    return lo - margin, hi + margin


def _zoom_bars(fig: go.Figure, values: Sequence[float], errors: Sequence[float] | None, title: str) -> go.Figure:
    """Zoom every value axis (facets share it) to the bars; title the first one."""
    lo, hi = zoomed_range(values, errors)
    fig.update_yaxes(range=[lo, hi])
    fig.layout.yaxis.title = f"{title} (axis zoomed, not from 0)"
    return fig


def class_legend(
    fig: go.Figure, class_names: Sequence[str], row: int | None = None, col: int | None = None
) -> go.Figure:
    """Legend entries (square markers) naming each class in its map colour, then the black of
    unlabelled (or not predicted) pixels; heatmaps have none."""
    entries = [*zip(class_names, class_colours(class_names), strict=True), ("unlabelled", "#000000")]
    for name, colour in entries:
        fig.add_scatter(
            x=[None],
            y=[None],
            mode="markers",
            marker=dict(symbol="square", size=12, color=colour),
            name=name,
            legendgroup=name,
            showlegend=True,
            row=row,
            col=col,
        )
    return fig


def stretch(image: np.ndarray, low: float = 2.0, high: float = 98.0) -> np.ndarray:
    """Per-channel percentile stretch to [0, 1] (display only)."""
    lo = np.percentile(image, low, axis=(0, 1), keepdims=True)
    hi = np.percentile(image, high, axis=(0, 1), keepdims=True)
    return np.clip((image - lo) / np.maximum(hi - lo, 1e-12), 0.0, 1.0)


def false_colour(hsi: np.ndarray, bands: Sequence[int] | None = None) -> np.ndarray:
    """(H, W, B) -> (H, W, 3) in [0, 1]; default bands spread over the spectrum (R, G, B order)."""
    b = hsi.shape[2]
    chosen = (
        list(bands)
        if bands is not None
        else ([int(0.8 * (b - 1)), int(0.5 * (b - 1)), int(0.15 * (b - 1))] if b >= 3 else [0] * 3)
    )
    return stretch(hsi[:, :, chosen].astype(np.float64))


def label_colourscale(class_names: Sequence[str]) -> list[list[Any]]:
    """Discrete colourscale: 0 (unlabelled) black, class k its `class_colours` colour."""
    colours = ["#000000", *class_colours(class_names)]
    scale = []
    for k, colour in enumerate(colours):
        scale += [[k / len(colours), colour], [(k + 1) / len(colours), colour]]
    return scale


def label_heatmap(labels: np.ndarray, class_names: Sequence[str]) -> go.Heatmap:
    names = np.array(["unlabelled", *class_names], dtype=object)[labels]
    return go.Heatmap(
        z=labels,
        zmin=-0.5,
        zmax=len(class_names) + 0.5,
        colorscale=label_colourscale(class_names),
        customdata=names,
        hovertemplate="row %{y}, col %{x}<br>%{customdata}<extra></extra>",
        showscale=False,
    )


def scene_overview(scene: Scene, units: Mapping[str, str] | None = None) -> go.Figure:
    """False-colour spectral image, each auxiliary modality's first channel with a colour bar in
    its unit (`units`, else scene.metadata["units"], else DEFAULT_UNITS), and the labels with a
    legend of class names."""
    names = scene.modality_names
    units = units if units is not None else scene.metadata.get("units", {})
    titles = [f"{names[0]} (false colour)", *[f"{n} (channel 0)" for n in names[1:]], "ground truth"]
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.08)
    fig.add_trace(go.Image(z=(255 * false_colour(scene.modalities[names[0]])).astype(np.uint8)), 1, 1)
    for i, name in enumerate(names[1:], start=2):
        domain = fig.layout[f"xaxis{i}"].domain
        unit = unit_of(name, units)
        fig.add_trace(
            go.Heatmap(
                z=scene.modalities[name][:, :, 0],
                colorscale="Viridis",
                hovertemplate=f"{name}: %{{z:.2f}} {unit}<extra></extra>",
                colorbar=dict(
                    title=dict(text=f"{name} ({unit})", side="right"), x=domain[1] + 0.005, len=0.8, thickness=12
                ),
            ),
            1,
            i,
        )
    fig.add_trace(label_heatmap(scene.gt, scene.class_names), 1, len(titles))
    class_legend(fig, scene.class_names, 1, len(titles))
    for i in range(1, len(titles) + 1):
        fig.update_yaxes(
            autorange="reversed", scaleanchor=f"x{i if i > 1 else ''}", showticklabels=False, title="row", row=1, col=i
        )
        fig.update_xaxes(showticklabels=False, title="column", row=1, col=i)
    fig.update_layout(
        height=380,
        width=340 * len(titles) + 160,
        title=f"{scene.name}: modalities and labels",
        margin=dict(t=70, l=30, r=10, b=30),
        legend_title="class",
    )
    return fig


def pixel_scene_overview(scene: PixelScene) -> go.Figure:
    """Where the labelled pixels of a pixel scene lie in its image, coloured by class."""
    fig = go.Figure()
    for k, (name, colour) in enumerate(zip(scene.class_names, class_colours(scene.class_names), strict=True), start=1):
        rc = scene.coords[scene.labels == k]
        fig.add_scattergl(x=rc[:, 1], y=rc[:, 0], mode="markers", name=name, marker=dict(size=3, color=colour))
    fig.update_yaxes(autorange="reversed", range=[scene.image_shape[0], 0], scaleanchor="x", title="row (pixels)")
    fig.update_xaxes(range=[0, scene.image_shape[1]], title="column (pixels)")
    fig.update_layout(
        title=f"{scene.name}: labelled pixels ({len(scene.labels)}) "
        f"in a {scene.image_shape[0]}x{scene.image_shape[1]} image",
        height=380,
    )
    return fig


def overview(scene: Scene | PixelScene) -> go.Figure:
    return pixel_scene_overview(scene) if isinstance(scene, PixelScene) else scene_overview(scene)


def class_counts(
    labels: np.ndarray, class_names: Sequence[str], masks: dict[str, np.ndarray] | None = None
) -> go.Figure:
    """Labelled pixels per class, optionally split into train/test bars."""
    masks = masks or {"all": labels > 0}
    fig = go.Figure()
    for name, mask in masks.items():
        counts = np.bincount(labels[mask], minlength=len(class_names) + 1)[1:]
        fig.add_bar(x=list(class_names), y=counts, name=name)
    fig.update_layout(
        barmode="group", title="labelled pixels per class", xaxis_title="class", yaxis_title="pixels", height=350
    )
    return fig


def class_mean_spectra(scene: Scene | PixelScene) -> go.Figure:
    """Mean spectrum of each class (spectral image), to see which classes look alike."""
    hsi = scene.modalities[scene.modality_names[0]]
    labels = scene.labels if isinstance(scene, PixelScene) else scene.gt
    fig = go.Figure()
    for k, (name, colour) in enumerate(zip(scene.class_names, class_colours(scene.class_names), strict=True), start=1):
        pixels = hsi[labels == k]
        if pixels.size == 0:
            continue
        fig.add_scatter(y=pixels.mean(0), mode="lines", name=name, line=dict(color=colour))
    fig.update_layout(
        title=f"class mean spectra ({scene.modality_names[0]})",
        xaxis_title="band (or PCA component) index",
        yaxis_title="mean value (as stored)",
        height=380,
    )
    return fig


def metric_bars(
    rows: Sequence[dict[str, Any]],
    x: str,
    colour: str,
    facet: str | None = None,
    metric: str = "overall_accuracy",
    error: str | None = None,
    unit: str = "%",
    title: str = "",
) -> go.Figure:
    """Grouped bars of one metric from result rows (dicts), e.g. OA by modality set and split;
    `error` names the column of the error bar (std over seeds; NaN for one seed: no bar). The
    value axis is zoomed to the bars (shared across facets). `title`: the figure's (default:
    the metric by `x` and `colour`)."""
    rows = list(rows)
    fig = px.bar(rows, x=x, y=metric, color=colour, barmode="group", facet_col=facet, error_y=error, text_auto=".1f")
    default = f"{metric.replace('_', ' ')} by {x.replace('_', ' ')}" + (f" and {colour}" if colour != x else "")
    fig.update_layout(height=380, title=title or default)
    fig.update_xaxes(title=x.replace("_", " "))
    errors = [float(r[error]) if r.get(error) is not None else np.nan for r in rows] if error else None
    return _zoom_bars(fig, [float(r[metric]) for r in rows], errors, f"{metric.replace('_', ' ')} ({unit})")


def confusion_heatmap(
    cm: np.ndarray, class_names: Sequence[str], title: str = "confusion matrix (row-normalised, %)"
) -> go.Figure:
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = 100.0 * cm / cm.sum(axis=1, keepdims=True)
    fig = go.Figure(
        go.Heatmap(
            z=norm,
            x=list(class_names),
            y=list(class_names),
            colorscale="Blues",
            zmin=0,
            zmax=100,
            customdata=cm,
            hovertemplate="true %{y}<br>pred %{x}<br>%{z:.1f}% (%{customdata} px)<extra></extra>",
        )
    )
    fig.data[0].colorbar = dict(title=dict(text="% of true class", side="right"))
    fig.update_yaxes(autorange="reversed", title="true class")
    fig.update_xaxes(title="predicted class")
    fig.update_layout(title=title, height=460, width=580)
    return fig


def label_maps(maps: dict[str, np.ndarray], class_names: Sequence[str], title: str = "") -> go.Figure:
    """Side-by-side label maps (ground truth, predictions) with one shared legend of class names
    in the semantic colours (black = unlabelled / not predicted)."""
    fig = make_subplots(rows=1, cols=len(maps), subplot_titles=list(maps), horizontal_spacing=0.02)
    for i, labels in enumerate(maps.values(), start=1):
        fig.add_trace(label_heatmap(labels, class_names), 1, i)
        fig.update_yaxes(
            autorange="reversed",
            showticklabels=False,
            scaleanchor=f"x{i if i > 1 else ''}",
            title="row" if i == 1 else None,
            row=1,
            col=i,
        )
        fig.update_xaxes(showticklabels=False, title="column", row=1, col=i)
    class_legend(fig, class_names, 1, 1)
    fig.update_layout(
        height=400, width=340 * len(maps) + 180, title=title, margin=dict(t=70, l=30, r=10, b=30), legend_title="class"
    )
    return fig


_DASHES = ("solid", "dash", "dot", "dashdot", "longdash")


def pretraining_curves(histories: dict[str, Sequence[dict[str, float]]], modalities: Sequence[str]) -> go.Figure:
    """Masking modes side by side over epochs (docs/METHOD.md §1): per-modality evaluation loss
    (the held-out batch with fixed t and noise, what chapter 01 reads; the training loss where a
    history has none), masking probability, cross-modal reliance, and the dominance gap (0 = balanced).

    histories: mode name -> pretraining history (pretrain.PretrainResult.history)."""
    evaluated = all(f"eval_loss_{m}" in h for history in histories.values() for h in history for m in modalities)
    panels = [
        ("eval_loss_{}", "evaluation loss (held-out batch)", "epsilon MSE")
        if evaluated
        else ("loss_{}", "training loss (visible modality)", "epsilon MSE"),
        ("p_mask_{}", "masking probability", "p_mask"),
        ("reliance_{}", "reliance on modality", "relative loss rise of the others"),
        ("dominance_gap", "dominance gap (0 = balanced)", "gap"),
    ]
    fig = make_subplots(rows=2, cols=2, subplot_titles=[title for _, title, _ in panels], vertical_spacing=0.14)
    for i, (mode, history) in enumerate(histories.items()):
        colour = PALETTE[i % len(PALETTE)]
        for p, (pattern, _, _) in enumerate(panels):
            row, col = divmod(p, 2)
            keys = [pattern.format(m) for m in modalities] if "{}" in pattern else [pattern]
            for d, key in enumerate(keys):
                points = [(h["epoch"], h[key]) for h in history if key in h]
                label = f"{mode} · {key.rsplit('_', 1)[-1]}" if "{}" in pattern else mode
                fig.add_scatter(
                    x=[e for e, _ in points],
                    y=[v for _, v in points],
                    mode="lines+markers",
                    name=label,
                    line=dict(color=colour, dash=_DASHES[d % len(_DASHES)]),
                    legendgroup=mode,
                    showlegend=p == 0,
                    row=row + 1,
                    col=col + 1,
                )
    for p, (_, _, ytitle) in enumerate(panels):
        fig.update_yaxes(title=ytitle, row=p // 2 + 1, col=p % 2 + 1)
    fig.update_xaxes(title="epoch")
    fig.update_layout(height=640, title="Masked DDPM pretraining: masking mode vs modality balance")
    return fig


def probe_bars(rows: Sequence[dict[str, Any]]) -> go.Figure:
    """Linear-probe accuracy per feature set (probe.linear_probe rows), value axis zoomed."""
    rows = list(rows)
    keys = list(METRICS)
    fig = px.bar(rows, x="features", y=keys, barmode="group", text_auto=".1f")
    fig.update_layout(
        height=360, title="Linear probe on the leak-free split", legend_title="", xaxis_title="feature set"
    )
    return _zoom_bars(fig, [float(r[k]) for r in rows for k in keys], None, "OA, AA (%), kappa (x100)")


CURVE_TITLES = {
    "train_loss": "training loss (CE + mutual terms)",
    "val_oa": "validation OA (%)",
    "val_loss": "validation loss (CE)",
}


def training_curves(
    histories: dict[str, Sequence[dict[str, float]]], keys: Sequence[str] = ("train_loss", "val_oa")
) -> go.Figure:
    """One panel per history key (e.g. training loss, validation OA), one line per run; y axes
    titled from CURVE_TITLES (else the key)."""
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=[k.replace("_", " ") for k in keys])
    for j, key in enumerate(keys, start=1):
        fig.update_yaxes(title=CURVE_TITLES.get(key, key.replace("_", " ")), row=1, col=j)
    for i, (name, history) in enumerate(histories.items()):
        for j, key in enumerate(keys, start=1):
            fig.add_scatter(
                x=[h["epoch"] for h in history],
                y=[h[key] for h in history],
                mode="lines+markers",
                name=name,
                line=dict(color=PALETTE[i % len(PALETTE)]),
                legendgroup=name,
                showlegend=j == 1,
                row=1,
                col=j,
            )
    fig.update_xaxes(title="epoch")
    rows = -(-len(histories) // 3)  # legend below the panels, three entries a row: long names never cover a curve
    fig.update_layout(
        height=380 + 22 * rows,
        title="Training curves (validation on a hold-out of the training pixels)",
        legend=dict(orientation="h", yanchor="top", y=-0.2, xanchor="left", x=0.0),
        margin=dict(b=60 + 22 * rows),
    )
    return fig


# --- interpretation (notebook 04): embeddings, pairwise branch measures, accuracies ---------


def embedding_panels(
    embeddings: Mapping[str, np.ndarray], labels: np.ndarray, class_names: Sequence[str], title: str = ""
) -> go.Figure:
    """One scatter panel per named (N, 2) embedding (branches, raw pixels), coloured by the (N,)
    0-based labels; class k has the same colour in every panel and one legend entry (click it to
    hide the class everywhere)."""
    y = np.asarray(labels)
    for name, e in embeddings.items():
        expect(
            np.shape(e) == (len(y), 2), DataError, f"embedding {name!r} must be (N={len(y)}, 2), found {np.shape(e)}"
        )
    fig = make_subplots(rows=1, cols=len(embeddings), subplot_titles=list(embeddings), horizontal_spacing=0.03)
    in_legend: set[int] = set()
    colours = class_colours(class_names)
    for col, e in enumerate(embeddings.values(), start=1):
        for k in np.unique(y):
            k = int(k)
            pts = np.asarray(e)[y == k]
            fig.add_scattergl(
                x=pts[:, 0],
                y=pts[:, 1],
                mode="markers",
                name=class_names[k],
                legendgroup=class_names[k],
                showlegend=k not in in_legend,
                marker=dict(size=4, color=colours[k]),
                hovertemplate=f"{class_names[k]}<extra></extra>",
                row=1,
                col=col,
            )
            in_legend.add(k)
        fig.update_xaxes(showticklabels=False, title="embedding dim 1", row=1, col=col)
        fig.update_yaxes(showticklabels=False, title="embedding dim 2" if col == 1 else None, row=1, col=col)
    fig.update_layout(title=title, height=380, width=340 * len(embeddings) + 160, margin=dict(t=70, l=10, r=10, b=10))
    return fig


def pairwise_heatmap(
    matrix: np.ndarray | Sequence[Sequence[float]],
    names: Sequence[str],
    title: str,
    zmin: float = 0.0,
    zmax: float = 1.0,
    measure: str = "",
) -> go.Figure:
    """K x K heatmap of a pairwise measure (CKA, disagreement, double-fault), values written in."""
    m = np.asarray(matrix, dtype=np.float64)
    expect(
        m.shape == (len(names), len(names)),
        DataError,
        f"matrix must be ({len(names)}, {len(names)}) for names {list(names)}, found {m.shape}",
    )
    fig = go.Figure(
        go.Heatmap(
            z=m,
            x=list(names),
            y=list(names),
            zmin=zmin,
            zmax=zmax,
            colorscale="Viridis",
            texttemplate="%{z:.2f}",
            hovertemplate="%{y} vs %{x}: %{z:.3f}<extra></extra>",
            colorbar=dict(title=dict(text=measure or title.split(" (")[0], side="right")),
        )
    )
    fig.update_yaxes(autorange="reversed", title="branch")
    fig.update_xaxes(title="branch")
    fig.update_layout(title=title, height=360, width=420)
    return fig


def accuracy_bars(report: Mapping[str, Any]) -> go.Figure:
    """Accuracy of each branch, the ensemble and the oracle from a `complementarity_report`."""
    acc = dict(report["branch_accuracy"])
    x = [*acc, "ensemble", "oracle (any branch)"]
    y = [*acc.values(), report["ensemble_accuracy"], report["oracle_accuracy"]]
    fig = go.Figure(go.Bar(x=x, y=y, texttemplate="%{y:.1f}"))
    fig.update_layout(
        title=f"ensemble gain over best branch ({report['best_branch']}): {report['ensemble_gain']:+.1f} points",
        xaxis_title="predictor",
        height=340,
    )
    return _zoom_bars(fig, y, None, "accuracy (%)")


def _efficiency_traces(
    fig: go.Figure,
    curves: Mapping[str, Mapping[int, Mapping[str, float]]],
    colours: Mapping[str, str],
    row: int | None = None,
    col: int | None = None,
    legend: bool = True,
) -> None:
    """One method's mean line and its 95 % band per curve, into `fig` (at `row`, `col` of a grid)."""
    where = {"row": row, "col": col} if row is not None else {}
    for method, by_budget in curves.items():
        colour = colours[method]
        x = sorted(by_budget)
        mean = [by_budget[b]["mean"] for b in x]
        low = [by_budget[b].get("low", float("nan")) for b in x]
        high = [by_budget[b].get("high", float("nan")) for b in x]
        if not any(np.isnan(low)):
            band = go.Scatter(
                x=x + x[::-1],
                y=high + low[::-1],
                fill="toself",
                fillcolor=colour,
                opacity=0.15,
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=method,
            )
            fig.add_trace(band, **where)
        line = go.Scatter(
            x=x,
            y=mean,
            name=method,
            mode="lines+markers",
            line={"color": colour},
            legendgroup=method,
            showlegend=legend,
        )
        fig.add_trace(line, **where)


def label_efficiency(
    curves: Mapping[str, Mapping[int, Mapping[str, float]]], title: str, metric: str = "OA (%)"
) -> go.Figure:
    """Accuracy against labelled pixels per class: method -> budget -> {mean, low, high} (the
    95 % interval over seeds drawn as a band), x on a log axis."""
    expect(len(curves) > 0, DataError, "label_efficiency: expected at least one method, found none")
    fig = go.Figure()
    _efficiency_traces(fig, curves, {m: METHOD_COLOURS[i % len(METHOD_COLOURS)] for i, m in enumerate(curves)})
    fig.update_layout(
        title=title,
        height=420,
        xaxis={
            "title": "labelled pixels per class (log scale)",
            "type": "log",
            "tickvals": sorted({b for c in curves.values() for b in c}),
        },
        yaxis_title=f"test {metric}, mean and 95 % CI over seeds",
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def label_efficiency_panels(
    curves_by_scene: Mapping[str, Mapping[str, Mapping[int, Mapping[str, float]]]],
    title: str,
    metric: str = "OA (%)",
) -> go.Figure:
    """`label_efficiency` for several scenes side by side, one panel each, a method keeping its
    colour across panels (the README's figure: docs/make_figures.py)."""
    expect(len(curves_by_scene) > 0, DataError, "label_efficiency_panels: expected at least one scene, found none")
    methods = list(dict.fromkeys(m for curves in curves_by_scene.values() for m in curves))
    colours = {m: METHOD_COLOURS[i % len(METHOD_COLOURS)] for i, m in enumerate(methods)}
    fig = make_subplots(rows=1, cols=len(curves_by_scene), subplot_titles=list(curves_by_scene))
    for col, curves in enumerate(curves_by_scene.values(), start=1):
        _efficiency_traces(fig, curves, colours, row=1, col=col, legend=col == 1)
        ticks = sorted({b for c in curves.values() for b in c})
        fig.update_xaxes(type="log", tickvals=ticks, title_text="labelled px / class (log)", row=1, col=col)
    fig.update_yaxes(title_text=f"test {metric}, mean and 95 % CI", row=1, col=1)
    fig.update_layout(title=title, height=460, width=1100, legend={"orientation": "h", "y": -0.3})
    return fig
