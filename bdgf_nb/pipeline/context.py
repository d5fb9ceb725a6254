"""One run's settings, made once and passed down: which scene, at which size, with which seed,
and where its artefacts go. Artefact names are built here from what produced them, so a
notebook, the torchrun command line and the bench find the same checkpoint without repeating
a naming convention.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bdgf_nb.errors import ConfigError, expect
from bdgf_nb.pipeline.presets import Preset, preset
from bdgf_nb.pipeline.records import record


@dataclass(frozen=True)
class DDPMSource:
    """Which pretrained DDPM a set of diffusion features came from (the provenance a classifier
    records): its masking mode and its seed, at the run's size."""

    masking: str
    seed: int

    @property
    def label(self) -> str:
        return f"ddpm-{self.masking}"


@dataclass(frozen=True)
class RunContext:
    """dataset: catalog name; preset: the resolved sizes (quick / full); seed: the run's seed
    (split, DDPM, first model seed); out_dir: the per-notebook result records (results/) and, unless
    `shared_dir` names another folder, the checkpoints (artifacts/) and the feature cache (cache/)."""

    dataset: str
    preset: Preset
    seed: int = 0
    out_dir: Path = Path("outputs/interactive")
    catalog: Path | None = None  # a catalog YAML of one's own; None: the repo's data_catalog.yaml
    allow_unmeasurable: bool = False  # go on (with Split.warnings) where a split cannot measure
    labels_per_class: int | None = None  # a label budget: classifiers see this many labelled pixels per class
    split_block: int = 0  # the disjoint split's block side (0: the catalog's or the default; data.splits)
    split_stripes: int = 0  # a pixel table's column stripes (0: the catalog's or the default)
    # where artifacts/ and cache/ go when not in out_dir: the runs of a label-budget sweep (bdgf-run) each
    # record into their own out_dir but share one, so the DDPMs, which see no label, are trained once
    shared_dir: Path | None = None

    def __post_init__(self) -> None:
        expect(
            isinstance(self.seed, int) and not isinstance(self.seed, bool) and self.seed >= 0,
            ConfigError,
            f"RunContext.seed: expected an integer >= 0, found {self.seed!r}",
        )
        expect(
            self.labels_per_class is None
            or (isinstance(self.labels_per_class, int) and not isinstance(self.labels_per_class, bool))
            and self.labels_per_class >= 1,
            ConfigError,
            f"RunContext.labels_per_class: expected an integer >= 1 or None (all), found {self.labels_per_class!r}",
        )
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        if self.catalog is not None:
            object.__setattr__(self, "catalog", Path(self.catalog))
        if self.shared_dir is not None:
            object.__setattr__(self, "shared_dir", Path(self.shared_dir))

    @classmethod
    def create(
        cls,
        dataset: str,
        quick: bool,
        seed: int = 0,
        out_dir: str | Path = "outputs/interactive",
        catalog: str | Path | None = None,
        allow_unmeasurable: bool = False,
        class_balanced: bool = False,
        select_on: str = "kappa",
        preset_name: str = "",
        masking_signal: str = "feature",
        width: int = 0,
        lambda_kl: float = 1.0,
        entropy_matching: bool = False,
        labels_per_class: int | None = None,
        split_block: int = 0,
        split_stripes: int = 0,
        shared_dir: str | Path | None = None,
    ) -> RunContext:
        """The context a notebook builds from its papermill parameters. `catalog` "" or None:
        the repo's catalog. `class_balanced` / `select_on`: the classifiers' sampling and
        validation metric (train.classifier.TrainConfig), recorded in every checkpoint.
        `preset_name` (e.g. "paper", sized for a GPU) overrides `quick` when given. The notebooks'
        exercise knobs: `masking_signal` (the adaptive rule's signal), `width` (0: the preset's),
        `lambda_kl` and `entropy_matching` (the mutual terms); a value other than the preset's
        gets its own checkpoint names (`ddpm_checkpoint`, `classifier_checkpoint`).
        `labels_per_class`: a label budget (None or 0: every training pixel; pipeline.steps.training_pixels).
        `shared_dir` "" or None: artifacts/ and cache/ in `out_dir`."""
        settings = preset(preset_name or ("quick" if quick else "full"))
        masking_cfg = replace(settings.pretrain.masking, signal=masking_signal)
        model, mutual = settings.model, settings.model.mutual_config
        settings = replace(
            settings,
            train=replace(settings.train, class_balanced=class_balanced, select_on=select_on),
            pretrain=replace(settings.pretrain, masking=masking_cfg),
            model=replace(
                model,
                width=width or model.width,
                mutual_config=replace(mutual, lambda_kl=lambda_kl, entropy_matching=entropy_matching),
            ),
        )
        return cls(
            dataset,
            settings,
            seed,
            Path(out_dir),
            Path(catalog) if catalog else None,
            allow_unmeasurable,
            labels_per_class or None,
            split_block,
            split_stripes,
            Path(shared_dir) if shared_dir else None,
        )

    @property
    def mode(self) -> str:
        return self.preset.name

    @property
    def budget_tag(self) -> str:
        """What names the files of a label-budget run ("" without a budget), so the runs of
        different budgets never share a checkpoint; the DDPMs (unlabelled) are shared."""
        return "" if self.labels_per_class is None else f"_lpc{self.labels_per_class}"

    @property
    def run_tag(self) -> str:
        """The budget tag, then the split's block / stripes when the run sets them (a run of another
        split in the same folder gets files of its own instead of a checkpoint that refuses to load);
        "" for the default run, whose file names stay as they were."""
        block = f"_block{self.split_block}" if self.split_block else ""
        return self.budget_tag + block + (f"_stripes{self.split_stripes}" if self.split_stripes else "")

    @property
    def artifacts_dir(self) -> Path:
        """Checkpoints, fused baselines' results and maps (their names say what made them)."""
        return (self.shared_dir or self.out_dir) / "artifacts"

    @property
    def cache_dir(self) -> Path:
        return (self.shared_dir or self.out_dir) / "cache"

    def record(self, notebook: str, key: str, value: Any) -> None:
        """Store `value` under `key` in this run's record of `notebook` (a `RECORDS` name), which
        `bdgf-run` merges into summary.json (pipeline.records)."""
        record(self.out_dir, notebook, key, value)

    def _defaults(self) -> Preset | None:
        """The named preset this run's sizes start from (None for a preset of one's own)."""
        try:
            return preset(self.mode)
        except ConfigError:
            return None

    def ddpm_checkpoint(self, scene: str, source: DDPMSource) -> Path:
        """The masking signal is named when it is not the preset's, for the modes it steers
        (adaptive, and random_matched at the adaptive run's rate)."""
        signal, base = self.preset.pretrain.masking.signal, self._defaults()
        steered = source.masking in ("adaptive", "random_matched")
        option = f"_signal-{signal}" if steered and base and signal != base.pretrain.masking.signal else ""
        return self.artifacts_dir / f"ddpm_{scene}_{source.masking}{option}_{self.mode}_seed{source.seed}.pt"

    def _model_options(self) -> str:
        """The model choices that differ from the preset's, for checkpoint names: _w48, _kl0, _entropy."""
        base, model = self._defaults(), self.preset.model
        if base is None:
            return ""
        mutual, default = model.mutual_config, base.model.mutual_config
        return (
            (f"_w{model.width}" if model.width != base.model.width else "")
            + (f"_kl{mutual.lambda_kl:g}" if mutual.lambda_kl != default.lambda_kl else "")
            + ("_entropy" if mutual.entropy_matching != default.entropy_matching else "")
        )

    def baseline_results(self, scene: str, seed: int) -> Path:
        """The fused baselines of model seed `seed` (pipeline.steps.fused_baselines), stored as JSON."""
        return self.artifacts_dir / f"baselines_{scene}_{self.mode}{self.run_tag}_seed{seed}.json"

    def baseline_map(self, scene: str, seed: int, model: str, features: str) -> Path:
        """A fused baseline's whole-scene map (pipeline.steps.baseline_scene_map), stored as .npz."""
        name = f"map_{model}-{features}_{scene}_{self.mode}{self.run_tag}_seed{seed}.npz"
        return self.artifacts_dir / name

    def classifier_checkpoint(self, scene: str, variant: str, source: DDPMSource | None, seed: int) -> Path:
        """One file per (variant, DDPM it was guided by, training choices, model seed); the DDPM's
        seed is named only when it differs from the run's seed (the usual case: one DDPM per run)."""
        ddpm = (
            "" if source is None else f"_{source.label}" + ("" if source.seed == self.seed else f"-seed{source.seed}")
        )
        train = self.preset.train  # non-default training choices get their own file, never a config clash
        options = (
            ("_balanced" if train.class_balanced else "")
            + ("" if train.select_on == "kappa" else f"_select-{train.select_on}")
            + self._model_options()
        )
        name = f"clf_{scene}_{variant}{ddpm}{options}_{self.mode}{self.run_tag}_seed{seed}.pt"
        return self.artifacts_dir / name
