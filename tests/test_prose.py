"""Prose from numbers (presentation/prose.py): no sentence states a direction its printed numbers contradict."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bdgf_nb.errors import DataError
from bdgf_nb.presentation import prose

NUM = r"(-?\d+(?:\.\d+)?)"
VERSUS = re.compile(rf"\({NUM}\) is (above|below|equal to) [^()]*\({NUM}\)(?: by {NUM})?")
CHANGE = re.compile(rf"(rises|falls) from {NUM} to {NUM}")
CI = re.compile(rf"\[{NUM}, {NUM}\] (includes zero|lies above zero|lies below zero)")

score = st.floats(0.0, 100.0, allow_nan=False)
small = st.floats(0.0, 1.0, allow_nan=False)


def check_directions(text: str) -> int:
    """Assert every direction phrase agrees with the numbers printed in it; return how many."""
    found = 0
    for a, word, b, gap in VERSUS.findall(text):
        a, b = float(a), float(b)
        assert {"above": a > b, "below": a < b, "equal to": a == b}[word], text
        if gap:
            assert float(gap) == pytest.approx(abs(a - b), abs=1e-9), text
        found += 1
    for word, x, y in CHANGE.findall(text):
        assert (float(y) > float(x)) if word == "rises" else (float(y) < float(x)), text
        found += 1
    for lo, hi, word in CI.findall(text):
        lo, hi = float(lo), float(hi)
        assert {"includes zero": lo <= 0 <= hi, "lies above zero": lo > 0, "lies below zero": hi < 0}[word], text
        assert ("not resolved" in text) == (word == "includes zero"), text
        found += 1
    for _ in re.finditer(r"stays at " + NUM, text):
        found += 1
    return found


@settings(max_examples=200, deadline=None)
@given(a=score, b=score, lo=st.floats(-10, 10), width=st.floats(0, 10), digits=st.integers(0, 3), with_ci=st.booleans())
def test_compare_never_contradicts_its_numbers(a, b, lo, width, digits, with_ci):
    text = prose.compare("BDGF", a, "no masking", b, ci=(lo, lo + width) if with_ci else None, digits=digits)
    assert check_directions(text) == 1 + with_ci


@settings(max_examples=100, deadline=None)
@given(
    features=st.dictionaries(st.sampled_from(["diffusion t5", "diffusion t50", "diffusion all"]), score, min_size=1),
    control=score,
)
def test_probe_reading_follows_the_numbers(features, control):
    text = prose.probe_vs_control(features, "raw 3x3 mean", control)
    assert check_directions(text) == len(features)
    beats = [v for v in features.values() if round(v, 1) > round(control, 1)]
    assert ("no diffusion feature set beats" in text) == (not beats)
    assert ("every diffusion feature set beats" in text) == (len(beats) == len(features))


@settings(max_examples=100, deadline=None)
@given(guided=score, unguided=score, pg=st.integers(1, 10**7), pu=st.integers(1, 10**7))
def test_guidance_reading_follows_the_numbers_and_names_the_parameter_confound(guided, unguided, pg, pu):
    text = prose.guidance_effect("Mamba", guided, unguided, pg, pu)
    assert check_directions(text) == 1
    assert f"{pg:,} vs {pu:,}" in text
    assert ("may be capacity" in text) == (round(guided, 1) > round(unguided, 1) and pg > pu)
    assert ("more parameters" in text) == (pg >= pu)


@settings(max_examples=100, deadline=None)
@given(branches=st.dictionaries(st.sampled_from(["cnn", "mamba", "transformer"]), score, min_size=1), ensemble=score)
def test_ensemble_reading_follows_the_numbers(branches, ensemble):
    text = prose.ensemble_reading(branches, ensemble)
    assert check_directions(text) == 1
    best = max(branches.values())
    assert ("helped" in text) == (round(ensemble, 1) > round(best, 1))
    assert ("cost accuracy" in text) == (round(ensemble, 1) < round(best, 1))


@settings(max_examples=100, deadline=None)
@given(cka=small, gain=st.floats(-20, 20))
def test_cka_reading_claims_complementarity_only_with_a_positive_gain(cka, gain):
    text = prose.cka_reading(cka, gain)
    shown = round(gain, 1)
    assert ("pay off" in text) == (shown > 0)
    m = re.search(r"the ensemble is (\d+\.\d) points (above|below)", text)
    if shown == 0:
        assert m is None and "equal to its best branch" in text
    else:
        assert m and float(m.group(1)) == pytest.approx(abs(shown)) and (m.group(2) == "above") == (shown > 0)
    assert ("largely similar" in text.split(":")[1]) == (round(cka, 2) >= 0.8)


@settings(max_examples=100, deadline=None)
@given(
    gap=st.tuples(small, small),
    hsi=st.tuples(small, small),
    lidar=st.tuples(st.floats(0, 0.05), st.floats(0, 0.05)),
    loss=st.tuples(small, small),
)
def test_masking_reading_follows_the_numbers(gap, hsi, lidar, loss):
    arms = {
        mode: {"dominance_gap": gap[i], "reliance_hsi": hsi[i], "reliance_lidar": lidar[i], "loss_lidar": loss[i]}
        for i, mode in enumerate(["none", "adaptive"])
    }
    text = prose.masking_reading(arms, ["hsi", "lidar"])
    assert check_directions(text) == 4  # gap, two reliances, one loss
    assert ("closer to balance" in text) == (round(gap[1], 3) < round(gap[0], 3))
    assert ("barely uses it" in text) == (max(lidar) < 0.02 or max(hsi) < 0.02)


def test_mean_text_prints_one_seed_instead_of_a_zero_spread():
    assert prose.mean_text([96.4]) == "96.4 (1 seed)"
    assert prose.mean_text([96.0, 96.0]) == "96.0 ± 0.0 (2 seeds)"
    assert prose.mean_text([1.0, 2.0, 3.0], digits=2) == "2.00 ± 1.00 (3 seeds)"


def test_examples_read_as_documented():
    assert prose.compare("BDGF", 65.2, "no masking", 64.1, ci=(-0.3, 2.5)) == (
        "By OA, BDGF (65.2) is above no masking (64.1) by 1.1 points; the 95 % CI of the difference [-0.3, 2.5] "
        "includes zero, so the difference is not resolved."
    )
    assert prose.compare("A", 65.24, "B", 65.16) == "By OA, A (65.2) is equal to B (65.2) at this precision."
    assert "one seed: no interval" in prose.compare("A", 1.0, "B", 0.0, ci=(float("nan"), float("nan")))
    with pytest.raises(DataError, match="finite numbers"):
        prose.compare("A", float("nan"), "B", 1.0)
    with pytest.raises(DataError, match=r"arms must hold the reference 'none'"):
        prose.masking_reading({"adaptive": {}}, ["hsi"])
