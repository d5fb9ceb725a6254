"""Readers over result rows (presentation/prose.py): directions follow the numbers they print."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_prose import check_directions

from bdgf_nb.errors import DataError
from bdgf_nb.presentation import prose

score = st.floats(0.0, 100.0, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(hsi=score, lidar=score, fused=score, leaky=score)
def test_baseline_reading_compares_fused_with_the_best_single_modality_and_the_leaky_split(hsi, lidar, fused, leaky):
    rows = [
        {"split": "blocks", "method": "RF", "modalities": m, "overall_accuracy": v}
        for m, v in (("hsi", hsi), ("lidar", lidar), ("hsi+lidar", fused))
    ]
    rows.append({"split": "random", "method": "RF", "modalities": "hsi+lidar", "overall_accuracy": leaky})
    text = prose.baseline_reading(rows, "blocks")
    assert check_directions(text) == 2
    best = "hsi" if hsi >= lidar else "lidar"
    assert f"the best single modality {best} ({max(hsi, lidar):.1f})" in text


def test_baseline_reading_names_what_the_official_split_inflates():
    rows = [
        {"split": s, "method": "SVM", "modalities": m, "overall_accuracy": v}
        for s, m, v in (
            ("disjoint", "hsi", 60.0),
            ("disjoint", "sar", 30.0),
            ("disjoint", "hsi+sar", 62.0),
            ("official", "hsi+sar", 80.0),
            ("random", "hsi+sar", 90.0),
        )
    ]
    text = prose.baseline_reading(rows, "disjoint")
    assert check_directions(text) == 3
    assert "SVM, fused: the official split (80.0)" in text and "SVM, fused: the random split (90.0)" in text
    assert text.index("the official split") < text.index("the random split")


def test_baseline_reading_refuses_rows_without_a_fused_set():
    with pytest.raises(DataError, match="needs fused and single-modality rows on split 'blocks'"):
        prose.baseline_reading(
            [{"split": "blocks", "method": "RF", "modalities": "hsi", "overall_accuracy": 1.0}], "blocks"
        )


def test_masking_schedule_reading_counts_epochs_at_the_cap():
    history = [
        {"p_mask_hsi": 0.1, "p_mask_lidar": 0.1},
        {"p_mask_hsi": 0.5, "p_mask_lidar": 0.0},
        {"p_mask_hsi": 0.5, "p_mask_lidar": 0.0},
    ]
    text = prose.masking_schedule_reading(history, ["hsi", "lidar"], p_max=0.5)
    assert text == (
        "p_mask(hsi) rises from 0.10 to 0.50 (epoch 1 -> 3; at the cap p_max = 0.5 in 2 of 3 epochs); "
        "p_mask(lidar) falls from 0.10 to 0.00 (epoch 1 -> 3; at the cap p_max = 0.5 in 0 of 3 epochs)."
    )
    assert check_directions(text) == 2


@settings(max_examples=100, deadline=None)
@given(none=st.floats(0, 1), adaptive=st.floats(0, 1))
def test_feature_balance_reading_follows_the_numbers(none, adaptive):
    text = prose.feature_balance_reading(
        [{"masking": "none", "feature_balance": none}, {"masking": "adaptive", "feature_balance": adaptive}]
    )
    assert check_directions(text) == 1
    assert ("closer to balanced" in text) == (round(adaptive, 2) > round(none, 2))
    nan = prose.feature_balance_reading(
        [{"masking": "none", "feature_balance": math.nan}, {"masking": "adaptive", "feature_balance": 0.5}]
    )
    assert "undefined" in nan


@settings(max_examples=100, deadline=None)
@given(ref=st.lists(score, min_size=1, max_size=4), delta=st.lists(st.floats(-5, 5), min_size=4, max_size=4))
def test_paired_readings_give_one_interval_per_method_and_one_seed_says_so(ref, delta):
    rows = [{"method": "BDGF", "seed": s, "overall_accuracy": v} for s, v in enumerate(ref)]
    rows += [{"method": "no guidance", "seed": s, "overall_accuracy": v + delta[s]} for s, v in enumerate(ref)]
    lines = prose.paired_readings(rows)
    assert lines[0].startswith("BDGF: ") and ("(1 seed)" in lines[0]) == (len(ref) == 1) and "± 0.00" not in lines[0]
    assert len(lines) == 2 and check_directions(lines[1]) == 1 + (len(ref) > 1)
    assert ("one seed: no interval" in lines[1]) == (len(ref) == 1)


def test_paired_readings_skip_methods_without_a_shared_seed_and_need_the_reference():
    rows = [
        {"method": "BDGF", "seed": 0, "overall_accuracy": 90.0},
        {"method": "SVM", "seed": 7, "overall_accuracy": 91.0},
    ]
    assert prose.paired_readings(rows) == ["BDGF: 90.0 (1 seed)."]
    with pytest.raises(DataError, match="no rows of the reference 'BDGF'"):
        prose.paired_readings(rows[1:])


def test_best_method_and_quick_flags():
    rows = [
        {"family": "baseline", "method": "RF", "seed": 0, "overall_accuracy": 96.9},
        {"family": "baseline", "method": "SVM", "seed": 0, "overall_accuracy": 97.4},
        {"family": "BDGF / ablation", "method": "BDGF", "seed": 0, "overall_accuracy": 99.0},
    ]
    assert (
        prose.best_method(rows, "baseline") == "the best baseline on this run by overall accuracy is SVM: 97.4 (1 seed)"
    )
    flags = prose.quick_flags({"a": {"quick": False}, "b": {}, "c": {}}, current="b", quick=True)
    assert flags == {"a": False, "b": True, "c": None}


def test_under_carried_reading_names_the_modality_and_follows_each_arm():
    rows = [
        {"masking": "none", "feature_r2_hsi": 0.73, "feature_r2_lidar": 0.92, "feature_balance": 0.79},
        {"masking": "adaptive", "feature_r2_hsi": 0.67, "feature_r2_lidar": 0.93, "feature_balance": 0.72},
        {"masking": "random_matched", "feature_r2_hsi": 0.75, "feature_r2_lidar": 0.92, "feature_balance": 0.81},
    ]
    text = prose.under_carried_reading(rows)
    assert text.startswith("Without masking the features carry hsi least (R² 0.73 against 0.92 for lidar)")
    assert "Under adaptive masking its R² falls from 0.73 to 0.67" in text
    assert "Under random_matched masking its R² rises from 0.73 to 0.75" in text
    flipped = prose.under_carried_reading([{**r, "feature_r2_hsi": 0.95} for r in rows])
    assert "carry lidar least" in flipped
    with pytest.raises(DataError, match="must hold the reference 'none'"):
        prose.under_carried_reading(rows[1:])
