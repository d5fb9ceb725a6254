"""The peers' two-stream CNN as a paired arm (model.two_stream, pipeline.steps.train_two_stream)."""

import numpy as np
import pytest
import torch

from bdgf_nb.data.load import load_scene
from bdgf_nb.errors import ConfigError, DataError
from bdgf_nb.model.two_stream import TwoStreamCNN, TwoStreamConfig
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.steps import prepare, train_two_stream


def test_each_stream_reads_only_its_modalities():
    torch.manual_seed(0)
    model = TwoStreamCNN(TwoStreamConfig(width=4, hidden=8), {"hsi": 5, "lidar": 1, "rgb": 3}, n_classes=3).eval()
    x = torch.randn(2, 9, 7, 7)
    out = model(x)
    assert out.logits[0].shape == (2, 3) and out.features[0].shape == (2, 16) and out.branches == ("two-stream CNN",)
    assert torch.allclose(out.probabilities.sum(-1), torch.ones(2))
    changed = x.clone()
    changed[:, 5:] += 1.0  # the auxiliary modalities move only the auxiliary stream's half of the features
    moved = model(changed).features[0]
    assert torch.equal(moved[:, :8], out.features[0][:, :8]) and not torch.equal(moved[:, 8:], out.features[0][:, 8:])
    loss, parts = model.loss(out, torch.tensor([0, 2]))
    assert loss.item() == pytest.approx(parts["ce"]) and loss.item() > 0
    with pytest.raises(DataError, match=r"expected x of shape \(b, C=9"):
        model(torch.randn(2, 8, 7, 7))
    with pytest.raises(ConfigError, match="needs a spectral and at least one other modality"):
        TwoStreamCNN(TwoStreamConfig(), {"hsi": 5}, 3)
    with pytest.raises(ConfigError, match="dropout"):
        TwoStreamConfig(dropout=1.0)


def test_it_trains_on_the_budgets_pixels_and_reloads(tmp_path):
    base = RunContext.create("synthetic", quick=True, out_dir=tmp_path, labels_per_class=4)
    ctx = type(base)(
        base.dataset, type(base.preset)(**{**vars(base.preset), "budget_steps": 20}), 0, tmp_path, labels_per_class=4
    )
    prepared = prepare(ctx, load_scene("synthetic", size=64, n_bands=6))
    report = train_two_stream(ctx, prepared, seed=1, progress=False)
    assert 0 <= report["overall_accuracy"] <= 100 and report["n_test"] == int(prepared.split.test.sum())
    saved = sorted(p.name for p in (tmp_path / "artifacts").glob("*.pt"))
    assert saved == ["clf_synthetic_two_stream_cnn_quick_lpc4_seed1.pt"]
    again = train_two_stream(ctx, prepared, seed=1, progress=False)  # reloaded: the same weights
    assert again["overall_accuracy"] == report["overall_accuracy"]
    assert np.isfinite(report["kappa"])


def test_the_study_reading_always_names_the_peer():
    from bdgf_nb.presentation import prose

    def entry(mean, diff=None):
        e = {"n": 3, "mean": mean, "low": mean - 1, "high": mean + 1, "std": 1.0}
        return {
            m: e | ({"minus_bdgf": {"n": 3, "mean": diff, "low": diff - 1, "high": diff + 1}} if diff else {})
            for m in ("oa",)
        }

    study = {
        "budgets": {
            "10": {
                "summary": {
                    "BDGF": entry(60.0),
                    "no guidance, widened": entry(55.0, -5.0),
                    "two-stream CNN (the peers' design)": entry(50.0, -10.0),  # neither the twin nor the best
                    "SVM (patch stats)": entry(62.0, 2.0),
                }
            }
        }
    }
    assert prose.label_efficiency_verdict("s", study) == (
        "On s, BDGF beats no guidance, widened at 10 labelled px / class; it beats two-stream CNN (the peers' design) "
        "at 10 labelled px / class (paired 95 % intervals excluding 0)."
    )
    study["budgets"]["50"] = {"summary": {"BDGF": entry(60.0), "no guidance, widened": entry(64.0, 4.0)}}
    assert prose.label_efficiency_verdict("s", study).startswith(
        "On s, BDGF beats no guidance, widened at 10 labelled px / class and loses to it at 50 labelled px / class; "
    )
    del study["budgets"]["50"]
    lines = prose.label_efficiency_reading(study).splitlines()
    assert [line.split("BDGF (60.0) is ")[1].split(" (")[0] for line in lines] == [
        "above no guidance, widened",
        "above two-stream CNN",
        "below SVM",
    ]
