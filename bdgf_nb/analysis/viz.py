"""Plotly figures the notebooks show (interactive in JupyterLab, rendered in HTML exports).

Figures only: every number drawn here is computed elsewhere in the library.
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

PALETTE = px.colors.qualitative.Alphabet + px.colors.qualitative.Dark24


def stretch(image: np.ndarray, low: float = 2.0, high: float = 98.0) -> np.ndarray:
    """Per-channel percentile stretch to [0, 1] (display only)."""
    lo = np.percentile(image, low, axis=(0, 1), keepdims=True)
    hi = np.percentile(image, high, axis=(0, 1), keepdims=True)
    return np.clip((image - lo) / np.maximum(hi - lo, 1e-12), 0.0, 1.0)


def false_colour(hsi: np.ndarray, bands: Sequence[int] | None = None) -> np.ndarray:
    """(H, W, B) -> (H, W, 3) in [0, 1]; default bands spread over the spectrum (R, G, B order)."""
    b = hsi.shape[2]
    chosen = list(bands) if bands is not None else ([int(0.8 * (b - 1)), int(0.5 * (b - 1)), int(0.15 * (b - 1))] if b >= 3 else [0] * 3)
    return stretch(hsi[:, :, chosen].astype(np.float64))


def label_colourscale(n_classes: int) -> list[list[Any]]:
    """Discrete colourscale: 0 (unlabelled) black, class k its palette colour."""
    colours = ["#000000"] + [PALETTE[k % len(PALETTE)] for k in range(n_classes)]
    scale = []
    for k, colour in enumerate(colours):
        scale += [[k / len(colours), colour], [(k + 1) / len(colours), colour]]
    return scale


def label_heatmap(labels: np.ndarray, class_names: Sequence[str]) -> go.Heatmap:
    names = np.array(["unlabelled", *class_names], dtype=object)[labels]
    return go.Heatmap(
        z=labels, zmin=-0.5, zmax=len(class_names) + 0.5, colorscale=label_colourscale(len(class_names)),
        customdata=names, hovertemplate="row %{y}, col %{x}<br>%{customdata}<extra></extra>", showscale=False,
    )


def scene_overview(scene: Scene) -> go.Figure:
    """False-colour spectral image, each auxiliary modality's first channel, and the labels."""
    names = scene.modality_names
    titles = [f"{names[0]} (false colour)", *[f"{n} (channel 0)" for n in names[1:]], "ground truth"]
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.03)
    fig.add_trace(go.Image(z=(255 * false_colour(scene.modalities[names[0]])).astype(np.uint8)), 1, 1)
    for i, name in enumerate(names[1:], start=2):
        fig.add_trace(go.Heatmap(z=scene.modalities[name][:, :, 0], colorscale="Viridis", showscale=False, hovertemplate=f"{name}: %{{z:.2f}}<extra></extra>"), 1, i)
    fig.add_trace(label_heatmap(scene.gt, scene.class_names), 1, len(titles))
    for i in range(1, len(titles) + 1):
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{i if i > 1 else ''}", showticklabels=False, row=1, col=i)
        fig.update_xaxes(showticklabels=False, row=1, col=i)
    fig.update_layout(height=360, width=320 * len(titles), title=f"{scene.name}: modalities and labels", margin=dict(t=70, l=10, r=10, b=10))
    return fig


def pixel_scene_overview(scene: PixelScene) -> go.Figure:
    """Where the labelled pixels of a pixel scene lie in its image, coloured by class."""
    fig = go.Figure()
    for k, name in enumerate(scene.class_names, start=1):
        rc = scene.coords[scene.labels == k]
        fig.add_scattergl(x=rc[:, 1], y=rc[:, 0], mode="markers", name=name, marker=dict(size=3, color=PALETTE[(k - 1) % len(PALETTE)]))
    fig.update_yaxes(autorange="reversed", range=[scene.image_shape[0], 0], scaleanchor="x")
    fig.update_xaxes(range=[0, scene.image_shape[1]])
    fig.update_layout(title=f"{scene.name}: labelled pixels ({len(scene.labels)}) in a {scene.image_shape[0]}x{scene.image_shape[1]} image", height=380)
    return fig


def overview(scene: Scene | PixelScene) -> go.Figure:
    return pixel_scene_overview(scene) if isinstance(scene, PixelScene) else scene_overview(scene)


def class_counts(labels: np.ndarray, class_names: Sequence[str], masks: dict[str, np.ndarray] | None = None) -> go.Figure:
    """Labelled pixels per class, optionally split into train/test bars."""
    masks = masks or {"all": labels > 0}
    fig = go.Figure()
    for name, mask in masks.items():
        counts = np.bincount(labels[mask], minlength=len(class_names) + 1)[1:]
        fig.add_bar(x=list(class_names), y=counts, name=name)
    fig.update_layout(barmode="group", title="labelled pixels per class", yaxis_title="pixels", height=350)
    return fig


def class_mean_spectra(scene: Scene | PixelScene) -> go.Figure:
    """Mean spectrum of each class (spectral image), to see which classes look alike."""
    hsi = scene.modalities[scene.modality_names[0]]
    labels = scene.labels if isinstance(scene, PixelScene) else scene.gt
    fig = go.Figure()
    for k, name in enumerate(scene.class_names, start=1):
        pixels = hsi[labels == k]
        if pixels.size == 0:
            continue
        mean = pixels.mean(0)
        colour = PALETTE[(k - 1) % len(PALETTE)]
        fig.add_scatter(y=mean, mode="lines", name=name, line=dict(color=colour))
    fig.update_layout(title=f"class mean spectra ({scene.modality_names[0]})", xaxis_title="band", yaxis_title="value", height=380)
    return fig


def metric_bars(rows: Sequence[dict[str, Any]], x: str, colour: str, facet: str | None = None, metric: str = "overall_accuracy", error: str | None = None) -> go.Figure:
    """Grouped bars of one metric from result rows (dicts), e.g. OA by modality set and split."""
    fig = px.bar(list(rows), x=x, y=metric, color=colour, barmode="group", facet_col=facet, error_y=error, text_auto=".1f")
    fig.update_layout(height=380, yaxis_title=metric.replace("_", " "))
    return fig


def confusion_heatmap(cm: np.ndarray, class_names: Sequence[str], title: str = "confusion matrix (row-normalised, %)") -> go.Figure:
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = 100.0 * cm / cm.sum(axis=1, keepdims=True)
    fig = go.Figure(go.Heatmap(z=norm, x=list(class_names), y=list(class_names), colorscale="Blues", zmin=0, zmax=100, customdata=cm, hovertemplate="true %{y}<br>pred %{x}<br>%{z:.1f}% (%{customdata} px)<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title="true")
    fig.update_xaxes(title="predicted")
    fig.update_layout(title=title, height=460, width=560)
    return fig


def label_maps(maps: dict[str, np.ndarray], class_names: Sequence[str], title: str = "") -> go.Figure:
    """Side-by-side label maps (ground truth, predictions) with one shared legend of classes."""
    fig = make_subplots(rows=1, cols=len(maps), subplot_titles=list(maps), horizontal_spacing=0.02)
    for i, labels in enumerate(maps.values(), start=1):
        fig.add_trace(label_heatmap(labels, class_names), 1, i)
        fig.update_yaxes(autorange="reversed", showticklabels=False, scaleanchor=f"x{i if i > 1 else ''}", row=1, col=i)
        fig.update_xaxes(showticklabels=False, row=1, col=i)
    fig.update_layout(height=380, width=340 * len(maps), title=title, margin=dict(t=70, l=10, r=10, b=10))
    return fig


_DASHES = ("solid", "dash", "dot", "dashdot", "longdash")


def pretraining_curves(histories: dict[str, Sequence[dict[str, float]]], modalities: Sequence[str]) -> go.Figure:
    """Masking modes side by side over epochs (BDGF.md step 1): per-modality training loss,
    masking probability, cross-modal reliance, and the dominance gap (0 = balanced).

    histories: mode name -> pretraining history (pretrain.PretrainResult.history)."""
    panels = [("loss_{}", "training loss (visible modality)"), ("p_mask_{}", "masking probability"),
              ("reliance_{}", "reliance on modality"), ("dominance_gap", "dominance gap (0 = balanced)")]
    fig = make_subplots(rows=2, cols=2, subplot_titles=[title for _, title in panels], vertical_spacing=0.14)
    for i, (mode, history) in enumerate(histories.items()):
        colour = PALETTE[i % len(PALETTE)]
        for p, (pattern, _) in enumerate(panels):
            row, col = divmod(p, 2)
            keys = [pattern.format(m) for m in modalities] if "{}" in pattern else [pattern]
            for d, key in enumerate(keys):
                points = [(h["epoch"], h[key]) for h in history if key in h]
                label = f"{mode} · {key.rsplit('_', 1)[-1]}" if "{}" in pattern else mode
                fig.add_scatter(x=[e for e, _ in points], y=[v for _, v in points], mode="lines+markers", name=label,
                                line=dict(color=colour, dash=_DASHES[d % len(_DASHES)]), legendgroup=mode,
                                showlegend=p == 0, row=row + 1, col=col + 1)
    fig.update_xaxes(title="epoch", row=2)
    fig.update_layout(height=620, title="Masked DDPM pretraining: masking mode vs modality balance")
    return fig


def probe_bars(rows: Sequence[dict[str, Any]]) -> go.Figure:
    """Linear-probe accuracy per feature set (probe.linear_probe rows)."""
    fig = px.bar(list(rows), x="features", y=["overall_accuracy", "average_accuracy", "kappa"], barmode="group", text_auto=".1f")
    fig.update_layout(height=360, yaxis_title="%", title="Linear probe on the leak-free split", legend_title="")
    return fig


def training_curves(histories: dict[str, Sequence[dict[str, float]]], keys: Sequence[str] = ("train_loss", "val_oa")) -> go.Figure:
    """One panel per history key (e.g. training loss, validation OA), one line per run."""
    fig = make_subplots(rows=1, cols=len(keys), subplot_titles=[k.replace("_", " ") for k in keys])
    for i, (name, history) in enumerate(histories.items()):
        for j, key in enumerate(keys, start=1):
            fig.add_scatter(x=[h["epoch"] for h in history], y=[h[key] for h in history], mode="lines+markers", name=name,
                            line=dict(color=PALETTE[i % len(PALETTE)]), legendgroup=name, showlegend=j == 1, row=1, col=j)
    fig.update_xaxes(title="epoch")
    fig.update_layout(height=360, title="Training curves (validation on a hold-out of the training pixels)")
    return fig


# --- interpretation (notebook 04): embeddings, pairwise branch measures, accuracies ---------


def embedding_panels(embeddings: Mapping[str, np.ndarray], labels: np.ndarray, class_names: Sequence[str], title: str = "") -> go.Figure:
    """One scatter panel per named (N, 2) embedding (branches, raw pixels), coloured by the (N,)
    0-based labels; class k has the same colour in every panel and one legend entry (click it to
    hide the class everywhere)."""
    y = np.asarray(labels)
    for name, e in embeddings.items():
        expect(np.shape(e) == (len(y), 2), DataError, f"embedding {name!r} must be (N={len(y)}, 2), found {np.shape(e)}")
    fig = make_subplots(rows=1, cols=len(embeddings), subplot_titles=list(embeddings), horizontal_spacing=0.03)
    in_legend: set[int] = set()
    for col, e in enumerate(embeddings.values(), start=1):
        for k in np.unique(y):
            k = int(k)
            pts = np.asarray(e)[y == k]
            fig.add_scattergl(
                x=pts[:, 0], y=pts[:, 1], mode="markers", name=class_names[k], legendgroup=class_names[k],
                showlegend=k not in in_legend, marker=dict(size=4, color=PALETTE[k % len(PALETTE)]),
                hovertemplate=f"{class_names[k]}<extra></extra>", row=1, col=col,
            )
            in_legend.add(k)
        fig.update_xaxes(showticklabels=False, row=1, col=col)
        fig.update_yaxes(showticklabels=False, row=1, col=col)
    fig.update_layout(title=title, height=380, width=340 * len(embeddings) + 160, margin=dict(t=70, l=10, r=10, b=10))
    return fig


def pairwise_heatmap(matrix: np.ndarray | Sequence[Sequence[float]], names: Sequence[str], title: str, zmin: float = 0.0, zmax: float = 1.0) -> go.Figure:
    """K x K heatmap of a pairwise measure (CKA, disagreement, double-fault), values written in."""
    m = np.asarray(matrix, dtype=np.float64)
    expect(m.shape == (len(names), len(names)), DataError, f"matrix must be ({len(names)}, {len(names)}) for names {list(names)}, found {m.shape}")
    fig = go.Figure(go.Heatmap(z=m, x=list(names), y=list(names), zmin=zmin, zmax=zmax, colorscale="Viridis", texttemplate="%{z:.2f}", hovertemplate="%{y} vs %{x}: %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title, height=360, width=420)
    return fig


def accuracy_bars(report: Mapping[str, Any]) -> go.Figure:
    """Accuracy of each branch, the ensemble and the oracle from a `complementarity_report`."""
    acc = dict(report["branch_accuracy"])
    x = [*acc, "ensemble", "oracle (any branch)"]
    fig = go.Figure(go.Bar(x=x, y=[*acc.values(), report["ensemble_accuracy"], report["oracle_accuracy"]], texttemplate="%{y:.1f}"))
    fig.update_layout(title=f"ensemble gain over best branch ({report['best_branch']}): {report['ensemble_gain']:+.1f} points", yaxis_title="accuracy (%)", height=340)
    return fig
