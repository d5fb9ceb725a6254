"""Which classifier to train: BDGF or one of its ablations, guided by which DDPM.

A `Variant` is a display name, the model ablations applied to BDGF's config in turn
(model.bdgf.ABLATIONS) and the DDPM whose features guide it ("run": the run's masking mode; or
another masking mode: that is how the masking ablations differ from BDGF, same classifier,
features of another DDPM). Its `key` ("cnn_only+no_guidance") names checkpoints and rows.
`COMPARISON` is notebook 03's table of variants; `branch_variant` gives chapter 02's single
branches with and without guidance.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from bdgf_nb.model.bdgf import ablation
from bdgf_nb.model.config import BDGFConfig


@dataclass(frozen=True)
class Variant:
    name: str  # display name in tables and plots
    ablations: tuple[str, ...] = ("bdgf",)  # model.bdgf.ABLATIONS, applied in turn
    ddpm: str = "run"  # "run": the run's masking mode, else a masking mode ("none")
    needs_ddpm: bool = False  # meaningless without diffusion features (pixel tables)

    def __post_init__(self) -> None:
        self.config(BDGFConfig())  # ConfigError naming an unknown ablation

    @property
    def key(self) -> str:
        """The name of its checkpoints and result rows, e.g. "cnn_only+no_guidance"."""
        return "+".join(self.ablations)

    @property
    def equal_size(self) -> bool:
        """Unguided, widened to the guided model's parameter count (`model.bdgf.equal_size_width`)."""
        return "no_guidance_equal_size" in self.ablations

    def config(self, base: BDGFConfig) -> BDGFConfig:
        """`base` with this variant's ablations (the width of an equal-size one is set by the pipeline)."""
        return reduce(ablation, self.ablations, base)

    def masking(self, run_masking: str) -> str:
        return run_masking if self.ddpm == "run" else self.ddpm


BDGF_VARIANT = Variant("BDGF")

COMPARISON: tuple[Variant, ...] = (
    BDGF_VARIANT,
    Variant("no guidance", ("no_guidance",), needs_ddpm=True),
    Variant("no guidance, widened to BDGF's size", ("no_guidance_equal_size",), needs_ddpm=True),
    Variant("no mutual learning", ("no_mutual",)),
    Variant("no masking (DDPM trained without)", ("bdgf",), ddpm="none", needs_ddpm=True),
    Variant("random masking at the adaptive rate", ("bdgf",), ddpm="random_matched", needs_ddpm=True),
    Variant("CNN branch only", ("cnn_only",)),
    Variant("Mamba branch only", ("mamba_only",)),
    Variant("Transformer branch only", ("transformer_only",)),
)


def comparison_variants(pixel_scene: bool) -> tuple[Variant, ...]:
    """The variants notebook 03 compares: all of `COMPARISON`, less those meaningless without
    diffusion features on a pixel table. `compare` and `bdgf-run --jobs`' task graph share it."""
    return tuple(v for v in COMPARISON if not (pixel_scene and v.needs_ddpm))


def branch_variant(branch: str, guided: bool) -> Variant:
    """One branch (model.config.BRANCHES) alone, with or without diffusion guidance (chapter 02)."""
    only = (f"{branch}_only",) if guided else (f"{branch}_only", "no_guidance")
    return Variant(f"{branch} ({'guided' if guided else 'unguided'})", only)
