"""Seed statistics: sample std, Student-t intervals, paired differences to the reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from bdgf_nb.analysis.stats import paired_difference, summarize
from bdgf_nb.errors import DataError
from bdgf_nb.presentation.tables import (
    idea_effects,
    mean_std_rows,
    mean_std_table,
    per_class_effects,
    seed_statistics,
)

BDGF = [65.0, 66.5, 64.0, 65.8, 66.1]
NO_MASK = [64.2, 66.0, 63.9, 65.0, 65.5]


def rows(methods: dict[str, list[float]], seeds: list[int] | None = None, family: str = "ablation") -> list[dict]:
    out = []
    for method, values in methods.items():
        for s, v in zip(seeds or range(len(values)), values, strict=True):
            out.append(
                {
                    "family": family,
                    "method": method,
                    "seed": s,
                    "overall_accuracy": v,
                    "average_accuracy": v - 10.0,
                    "kappa": v - 20.0 + 0.1 * s,
                }
            )
    return out


def test_summary_is_sample_std_and_student_t_interval():
    s = summarize(BDGF)
    assert s.std == pytest.approx(np.std(BDGF, ddof=1))
    low, high = stats.t.interval(0.95, df=4, loc=np.mean(BDGF), scale=stats.sem(BDGF))
    assert (s.low, s.high) == pytest.approx((low, high))
    # known value: n = 2, t_{0.975, 1} = 12.706
    two = summarize([1.0, 3.0])
    assert two.std == pytest.approx(math.sqrt(2)) and two.half_width == pytest.approx(12.7062047, rel=1e-6)


def test_paired_difference_matches_scipy_ttest_rel():
    d = paired_difference(dict(enumerate(NO_MASK)), dict(enumerate(BDGF)))
    ci = stats.ttest_rel(NO_MASK, BDGF).confidence_interval(0.95)
    assert d.n == 5 and d.mean == pytest.approx(np.mean(NO_MASK) - np.mean(BDGF))
    assert (d.low, d.high) == pytest.approx((ci.low, ci.high))
    # pairing matters: the unpaired interval of the same numbers is wider
    unpaired = stats.ttest_ind(NO_MASK, BDGF).confidence_interval(0.95)
    assert d.high - d.low < unpaired.high - unpaired.low


def test_paired_difference_uses_only_shared_seeds_and_refuses_none():
    d = paired_difference({0: 2.0, 1: 4.0, 7: 100.0}, {0: 1.0, 1: 1.0, 2: 50.0})
    assert d.n == 2 and d.mean == pytest.approx(2.0)
    with pytest.raises(DataError, match=r"no seed in common.*variant seeds \[3, 4\], reference seeds \[0, 1\]"):
        paired_difference({3: 1.0, 4: 2.0}, {0: 1.0, 1: 1.0})


def test_table_columns_and_paired_difference():
    table = mean_std_table(rows({"BDGF": BDGF, "no masking": NO_MASK}), by=["family", "method"])
    ci = stats.ttest_rel(NO_MASK, BDGF).confidence_interval(0.95)
    row = table.loc[("ablation", "no masking")]
    assert row["OA"] == f"{np.mean(NO_MASK):.2f} ± {np.std(NO_MASK, ddof=1):.2f}"
    assert row["ΔOA vs BDGF [95 % CI]"] == f"{np.mean(NO_MASK) - np.mean(BDGF):+.2f} [{ci.low:+.2f}, {ci.high:+.2f}]"
    assert table.loc[("ablation", "BDGF"), "ΔOA vs BDGF [95 % CI]"] == "reference"
    assert list(table.columns) == [
        "OA",
        "OA 95 % CI",
        "ΔOA vs BDGF [95 % CI]",
        "AA",
        "AA 95 % CI",
        "ΔAA vs BDGF [95 % CI]",
        "kappa",
        "kappa 95 % CI",
        "Δkappa vs BDGF [95 % CI]",
        "seeds",
        "paired seeds",
    ]
    assert row["seeds"] == 5 and row["paired seeds"] == 5


def test_one_seed_prints_one_seed_never_zero_std():
    table = mean_std_table(rows({"BDGF": [70.0], "SVM": [60.0]}), by=["method"])
    text = table.to_string()
    assert "± 0.00" not in text and "nan" not in text
    assert table.loc["BDGF", "OA"] == "70.00 (1 seed)" and table.loc["BDGF", "OA 95 % CI"] == "1 seed"
    assert table.loc["SVM", "ΔOA vs BDGF [95 % CI]"] == "-10.00 (1 seed)"
    bars = mean_std_rows(rows({"BDGF": [70.0]}), by=["method"])
    assert math.isnan(bars[0]["overall_accuracy_std"]) and bars[0]["seeds"] == 1


def test_baseline_family_pairs_with_bdgf_of_the_same_dataset():
    data = [{**r, "dataset": "a"} for r in rows({"BDGF": [70.0, 72.0]}) + rows({"SVM": [60.0]}, family="baseline")]
    data += [{**r, "dataset": "b"} for r in rows({"BDGF": [50.0, 52.0], "SVM": [55.0, 56.0]})]
    tidy = seed_statistics(data, by=["dataset", "family", "method"]).set_index(["dataset", "method", "metric"])
    assert tidy.loc[("a", "SVM", "OA"), "diff_mean"] == pytest.approx(-10.0)  # seed 0 only
    assert tidy.loc[("a", "SVM", "OA"), "diff_n"] == 1
    assert tidy.loc[("b", "SVM", "OA"), "diff_mean"] == pytest.approx(4.5)


def test_unpaired_or_repeated_seeds_are_refused():
    with pytest.raises(DataError, match="no seed in common"):
        mean_std_table(
            rows({"BDGF": [1.0, 2.0]}, seeds=[0, 1]) + rows({"SVM": [1.0, 2.0]}, seeds=[5, 6]), by=["method"]
        )
    with pytest.raises(DataError, match=r"seeds \[0\] appear more than once"):
        mean_std_table(rows({"BDGF": [1.0, 2.0]}, seeds=[0, 0]), by=["method"])
    with pytest.raises(DataError, match=r"lack the columns \['seed'\]"):
        mean_std_table(
            [{"method": "BDGF", "overall_accuracy": 1.0, "average_accuracy": 1.0, "kappa": 1.0}], by=["method"]
        )


def test_no_reference_in_context_is_said_not_invented():
    table = mean_std_table(rows({"SVM": [60.0, 61.0]}), by=["method"])
    assert table.loc["SVM", "ΔOA vs BDGF [95 % CI]"] == "no reference"


def _idea_rows(bdgf: list[float], other: list[float], other_name: str) -> list[dict]:
    rows = []
    for method, values in (("BDGF", bdgf), (other_name, other)):
        rows += [
            {"method": method, "seed": s, "overall_accuracy": v, "average_accuracy": v - 10, "kappa": v - 20}
            for s, v in enumerate(values)
        ]
    return rows


def test_idea_effects_are_paired_with_minus_without_and_say_when_they_cannot_tell():
    helps = idea_effects(_idea_rows([80.0, 82.0, 84.0], [79.0, 81.0, 83.0], "no guidance"))
    row = helps.loc["guidance vs none"]
    assert row["OA effect"] == pytest.approx(1.0) and row["verdict (OA)"] == "helps" and row["seeds"] == 3
    assert row["ΔOA [95 % CI]"] == "+1.00 [+1.00, +1.00]"
    noisy = idea_effects(_idea_rows([80.0, 82.0, 84.0], [81.0, 80.0, 85.0], "no mutual learning")).loc[
        "mutual learning vs none"
    ]
    expected = stats.ttest_rel([80.0, 82.0, 84.0], [81.0, 80.0, 85.0]).confidence_interval(0.95)
    assert (noisy["OA low"], noisy["OA high"]) == pytest.approx((expected.low, expected.high))
    assert noisy["verdict (OA)"] == "cannot tell"
    worse = idea_effects(_idea_rows([80.0, 81.0, 82.0], [82.0, 83.5, 84.0], "no masking (DDPM trained without)")).loc[
        "adaptive masking vs no masking"
    ]
    assert worse["verdict (OA)"] == "hurts"
    one = idea_effects(_idea_rows([80.0], [79.0], "no guidance")).loc["guidance vs none"]
    assert one["verdict (OA)"] == "1 seed" and one["ΔOA [95 % CI]"] == "+1.00 (1 seed)"


def test_ensemble_idea_is_chosen_rule_minus_mean_and_missing_ideas_are_refused():
    rows = _idea_rows([80.0, 81.0, 82.0], [81.0, 82.5, 83.0], "BDGF, ensemble rule chosen on validation")
    assert idea_effects(rows).loc["ensemble rule chosen on validation vs mean", "OA effect"] == pytest.approx(
        (1 + 1.5 + 1) / 3
    )  # chosen - mean
    with pytest.raises(DataError, match="no idea has both of its methods"):
        idea_effects([{"method": "BDGF", "seed": 0, "overall_accuracy": 1.0, "average_accuracy": 1.0, "kappa": 1.0}])


def test_per_class_effects_skip_classes_without_test_pixels():
    per_class = {
        ("BDGF", 0): [90.0, None, 50.0],
        ("BDGF", 1): [92.0, None, 54.0],
        ("no masking", 0): [90.0, None, 40.0],
        ("no masking", 1): [91.0, None, 42.0],
    }
    table = per_class_effects(per_class, "BDGF", "no masking", [1, 2], ["a", "b", "c"])
    assert table["class"].tolist() == ["c"]  # class b has no test pixel in any run
    assert table.loc[0, "effect [95 % CI]"].startswith("+11.00 [") and table.loc[0, "seeds"] == 2


def test_masking_ideas_pair_ddpm_draws_not_model_seeds():
    """Masking arms differ by their DDPM: four model seeds guided by two draws are two units."""
    rows = []
    for method, values in (
        ("BDGF", [80.0, 84.0, 81.0, 85.0]),
        ("no masking (DDPM trained without)", [79.0, 82.0, 80.0, 83.0]),
    ):
        rows += [
            {"method": method, "seed": s, "ddpm_seed": s % 2, "overall_accuracy": v, "average_accuracy": v, "kappa": v}
            for s, v in enumerate(values)
        ]
    rows += [{**r, "method": "no guidance", "overall_accuracy": r["overall_accuracy"] - 1} for r in rows[:4]]
    ideas = idea_effects(rows)
    masking = ideas.loc["adaptive masking vs no masking"]
    # draw 0: seeds 0, 2 -> 80.5 vs 79.5; draw 1: seeds 1, 3 -> 84.5 vs 82.5; differences 1.0 and 2.0
    assert masking["seeds"] == "2 DDPM draws" and masking["OA effect"] == pytest.approx(1.5)
    expected = stats.ttest_rel([80.5, 84.5], [79.5, 82.5]).confidence_interval(0.95)
    assert (masking["OA low"], masking["OA high"]) == pytest.approx((expected.low, expected.high))
    assert ideas.loc["guidance vs none"]["seeds"] == 4  # the same DDPM on both sides: model seeds stay the unit
    one = idea_effects([r for r in rows if r["ddpm_seed"] == 0]).loc["adaptive masking vs no masking"]
    assert one["verdict (OA)"] == "1 draw" and one["ΔOA [95 % CI]"] == "+1.00 (1 DDPM draw)"


def test_rounded_reaches_every_float_for_display():
    from bdgf_nb.presentation.tables import rounded

    shown = rounded({"oa": 98.817568, "per": [1.23456, (2.0001, "x")], "n": 3, "best": "cnn"})
    assert shown == {"oa": 98.82, "per": [1.23, (2.0, "x")], "n": 3, "best": "cnn"}
