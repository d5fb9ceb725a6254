"""The chapters' closing cells (presentation/closing.py): this run's findings under their seed
count, the stored full-protocol verdicts of the same scene, and chapter 05's answer. Every
sentence follows its numbers; one seed never prints a doubled "(1 seed)"."""

from __future__ import annotations

import re

import pytest

from bdgf_nb.pipeline.records import RECORDS
from bdgf_nb.pipeline.steps import best_baseline
from bdgf_nb.pipeline.stored_results import PEERS, code_changes_since, full_protocol_lines, stored_answer
from bdgf_nb.presentation import closing, prose
from bdgf_nb.presentation.report import StoredResult
from bdgf_nb.presentation.tables import idea_effects


def rows(seeds: int, bdgf: float = 80.0, best_baseline_oa: float = 79.0) -> list[dict]:
    out = []
    for seed in range(seeds):
        for method, family, oa in (
            ("BDGF", "BDGF / ablation", bdgf),
            ("no guidance", "BDGF / ablation", 76.0),
            ("no guidance, widened to BDGF's size", "BDGF / ablation", 71.0),
            ("CNN branch only", "BDGF / ablation", 70.0),
            ("Mamba branch only", "BDGF / ablation", 65.0),
            ("SVM (centre)", "baseline", 70.0),
            ("SVM (patch stats)", "baseline", best_baseline_oa),
        ):
            value = oa + 0.3 * seed * (1 if method == "BDGF" else -1)  # BDGF drifts up, the others down
            metrics = dict(
                zip(("overall_accuracy", "average_accuracy", "kappa"), (value, value - 5, value - 10), strict=True)
            )
            out.append({"method": method, "family": family, "seed": seed, **metrics})
    return out


def test_one_seed_says_so_once_and_resolves_nothing():
    one = rows(1)
    ideas = idea_effects(one)
    lines = [*closing.idea_sentences(ideas), closing.versus_best_baseline(one)]
    assert lines[0] == "guidance vs none: +4.00 OA points on 1 seed: no interval, so not resolved"
    for line in lines:
        assert "(1 seed) (1 seed)" not in line and line.count("1 seed") == 1, line
    assert "+1.00 OA points (1 seed: no interval, so not resolved)" in lines[-1]
    assert closing.run_units(one, 1).endswith("it ranks methods and resolves nothing")


def test_many_seeds_give_the_verdict_with_its_interval():
    five = rows(5)
    (line, *_) = closing.idea_sentences(idea_effects(five), ["guidance vs none"])
    assert re.fullmatch(
        r"guidance vs none: helps, \+\d\.\d\d \[\+\d\.\d\d, \+\d\.\d\d\] OA points over 5 paired seeds", line
    )
    assert "(5 paired seeds)" in closing.versus_best_baseline(five)


def test_noise_floor_is_the_gap_between_the_two_unguided_arms():
    text = closing.noise_floor(rows(1))
    assert text is not None and "above" in text and "gap of about 5.0 points" in text
    assert closing.noise_floor([r for r in rows(1) if r["method"] != "no guidance"]) is None


def test_best_baseline_and_best_classifier_follow_the_numbers():
    assert best_baseline(rows(2)) == ("SVM (patch stats)", "svm", "patch_stats")
    assert best_baseline(rows(2, best_baseline_oa=60.0)) == ("SVM (centre)", "svm", "centre")
    probe = [{"features": "raw 3x3 mean", "overall_accuracy": 92.7}]
    text = closing.best_classifier(rows(1), probe, train_pixels=4314, max_train_pixels=1500)
    assert text.startswith("the best classifier of this run is the linear probe on raw 3x3 mean")
    assert "(92.7) is above BDGF (80.0) by 12.7 points" in text and "4,314" in text and "1,500" in text
    assert "is the reference itself" in closing.best_classifier(rows(1), [{"features": "x", "overall_accuracy": 1.0}])


def test_branches_inside_and_alone_reads_chapter_03_rows():
    alone = closing.branch_alone_scores(rows(2), ["cnn", "mamba", "transformer"], seed=1)
    assert alone == {"cnn": pytest.approx(69.7), "mamba": pytest.approx(64.7)}
    text = closing.branches_inside_and_alone({"cnn": 60.0, "mamba": 82.0}, alone, 81.0)
    assert "cnn inside BDGF (60.0) is below cnn trained alone (69.7)" in text
    assert "mamba inside BDGF (82.0) is above mamba trained alone (64.7) by 17.3 points" in text
    assert closing.branches_inside_and_alone({"cnn": 1.0}, {}, 1.0).startswith("No branch-alone rows")


def test_full_protocol_lines_name_the_stored_run_its_age_and_the_chapter_ideas(tmp_path):
    stored = StoredResult("s_full", "s", "full", [0, 1, 2, 3, 4], "bdgf-run", "2026-01-01", rows(5), code="abc1234")
    quick = StoredResult("s_quick", "s", "quick", [0], "bdgf-run", "2026-01-01", rows(1))
    lines = closing.full_protocol([stored, quick], "s", closing.CHAPTER_IDEAS["02"], {"s_full": {"bdgf_nb/ddpm": 3}})
    assert lines[0].startswith("s, full preset, 5 paired model seeds (recorded 2026-01-01 from code abc1234")
    assert "3 commits to bdgf_nb/ddpm, so these numbers describe older code" in lines[0]
    assert [line.split(":")[0] for line in lines[2:]] == [
        "guidance vs none",
        "guidance vs none at equal parameter count",
    ]
    unchanged = closing.full_protocol([stored], "s", (), {"s_full": {"bdgf_nb/ddpm": 0}})
    assert "bdgf_nb/ddpm unchanged since" in unchanged[0]
    assert "cannot be checked here" in closing.full_protocol([stored], "s", (), {"s_full": None})[0]
    missing = closing.full_protocol([quick], "s")
    assert len(missing) == 1 and missing[0].startswith("No full-protocol run of s is stored")
    text = closing.what_it_shows(["x is 1"], "1 seed", lines)
    assert text.splitlines()[0] == "What this run shows (1 seed):" and "  - X is 1." in text
    with pytest.raises(Exception, match="at least one sentence"):
        closing.what_it_shows([], "1 seed", lines)


def test_the_repositorys_stored_results_answer_chapter_05():
    """The shipped results/*.json: synthetic above its best baseline, houston2018_west level with
    it, set beside the published peers; every chapter's closing reads its ideas."""
    answer = stored_answer()
    synthetic = next(line for line in answer if line.startswith("On synthetic"))
    houston = next(line for line in answer if line.startswith("On houston2018_west"))
    assert "is above the best baseline" in synthetic and "guidance vs none helps" in synthetic
    assert "is level with the best baseline" in houston and "cannot tell" in houston
    assert all(name in houston for name, _, _ in PEERS["houston2018_west"])
    assert answer[-1].startswith("Against the paper")
    for chapter, ideas in closing.CHAPTER_IDEAS.items():
        lines = full_protocol_lines("synthetic", chapter)
        assert [line.split(":")[0].lower() for line in lines[2:]] == list(ideas), chapter
    changed = code_changes_since("HEAD")
    assert changed is None or set(changed.values()) == {0}
    assert code_changes_since("not-a-revision") is None


def test_run_findings_read_a_summary():
    summary = {
        RECORDS.comparison: {"rows": rows(1), "settings": {"max_train_pixels": 1500}},
        RECORDS.pretraining: {"linear_probe": [{"features": "raw 3x3 mean", "overall_accuracy": 50.0}]},
        RECORDS.data: {"split": {"train": 4000}},
    }
    first, second = closing.run_findings("s", summary, RECORDS)
    assert first.startswith("on s: BDGF (80.00 OA) minus the best baseline, SVM (patch stats)")
    assert second.startswith("on s: the best classifier of this run is BDGF; it (80.0 OA) is the reference itself")
    assert second.endswith(
        "(the probes fit on all 4,000 training pixels of the split, BDGF and its ablations on at most 1,500)"
    )
    assert closing.run_findings("s", {}, RECORDS) == ["on s: no notebook-03 rows in this run"]


def test_seconds_and_the_under_carried_modality_in_words():
    assert prose.seconds_text(0.0) == "reloaded" and prose.seconds_text(12.4) == "12 s"
    feature_rows = [
        {"masking": "none", "feature_r2_hsi": 0.73, "feature_r2_lidar": 0.92},
        {"masking": "adaptive", "feature_r2_hsi": 0.75, "feature_r2_lidar": 0.91},
    ]
    text = prose.under_carried_reading(feature_rows, spectral="hsi")
    assert "the features carry lidar better than the spectral image hsi: the opposite" in text
    assert "rises from 0.73 to 0.75" in text
    swapped = [
        {k.replace("hsi", "x").replace("lidar", "hsi").replace("x", "lidar"): v for k, v in r.items()}
        for r in feature_rows
    ]
    assert "dominated by the spectral image hsi, as the paper's premise expects" in prose.under_carried_reading(
        swapped, spectral="hsi"
    )


def test_training_pixels_name_each_familys_share():
    text = closing.training_pixels(4314, 1500, 1500)
    assert text == (
        "training pixels: the split holds 4,314; BDGF, its ablations and the single branches fit on at most "
        "1,500 of them, the SVM on at most 1,500, the RF and chapter 01's linear probes on all 4,314"
    )
    assert "fit on all 900 of them, the SVM on at most 900" in closing.training_pixels(900, None, 1500)
