"""The configuration of a BDGF model, validated once here and passed down as one object: the
BDGF model, each branch and the mutual-learning loss read their fields from it (names as in
docs/METHOD.md §3; `src:` marks the paper a default follows)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bdgf_nb.config_checks import check_fields
from bdgf_nb.errors import ConfigError, expect
from bdgf_nb.model.ensemble import ENSEMBLE_RULES
from bdgf_nb.model.mamba import MambaConfig
from bdgf_nb.model.mutual import MutualConfig

BRANCHES = ("cnn", "mamba", "transformer")


@dataclass
class BDGFConfig:
    branches: tuple[str, ...] = BRANCHES  # ordered subset of BRANCHES
    width: int = 64  # d of every branch (CNN channels, Mamba d_model, Transformer dim)
    stages: int = 3  # K stages per branch = guide depths used (docs/METHOD.md §3: K = 3)
    guidance: bool = True  # False: branches ignore the diffusion features ("no_guidance")
    mutual: bool = True  # False: loss = sum of per-branch CE ("no_mutual")
    mutual_config: MutualConfig = field(default_factory=MutualConfig)  # weights of the mutual terms
    ensemble: str = "mean"  # "mean" | "entropy" | "fitted" (weights fitted on validation, `BDGF.set_ensemble_weights`)
    dropout: float = 0.1
    # Mamba branch (docs/METHOD.md §3; src: MambaHSI)
    band_group: int | str = "auto"  # bands per spectral token; "auto" = ceil(B / 16)
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    scan_backend: str = "auto"  # selective-scan backend (scan.py); does not change the weights
    attention_groups: int = 4  # GroupChannelAttention: groups of the d channels
    reduction: int = 4  # GroupChannelAttention: squeeze-excitation bottleneck
    # Transformer branch (docs/METHOD.md §3; src: MFT / HCT)
    heads: int = 2  # attention heads (src: 8); on CPU the cost grows with heads * (p*p)^2
    mlp_ratio: int = 2
    cross_queries: str = "cls"  # tokens that query the guide: "cls" (cheap, MFT-like) | "all"
    max_patch: int = 11  # largest patch side the learned position table covers

    def __post_init__(self) -> None:
        check_fields(self)  # types, naming the field; lists become tuples
        unknown = [b for b in self.branches if b not in BRANCHES]
        expect(
            not unknown and len(self.branches) >= 1 and len(set(self.branches)) == len(self.branches),
            ConfigError,
            f"BDGFConfig.branches must be a non-empty subset of {list(BRANCHES)} without repeats, "
            f"found {list(self.branches)}",
        )
        for name in ("width", "stages", "mlp_ratio", "reduction", "attention_groups", "heads"):
            expect(
                getattr(self, name) >= 1, ConfigError, f"BDGFConfig.{name} must be >= 1, found {getattr(self, name)}"
            )
        expect(0.0 <= self.dropout < 1.0, ConfigError, f"BDGFConfig.dropout must be in [0, 1), found {self.dropout}")
        expect(
            self.ensemble in ENSEMBLE_RULES,
            ConfigError,
            f"BDGFConfig.ensemble must be one of {list(ENSEMBLE_RULES)}, found {self.ensemble!r}",
        )
        expect(
            self.cross_queries in ("cls", "all"),
            ConfigError,
            f"BDGFConfig.cross_queries must be 'cls' or 'all', found {self.cross_queries!r}",
        )
        expect(
            self.width % self.heads == 0,
            ConfigError,
            f"BDGFConfig.width ({self.width}) must be divisible by heads ({self.heads})",
        )
        expect(
            self.width % self.attention_groups == 0,
            ConfigError,
            f"BDGFConfig.width ({self.width}) must be divisible by attention_groups ({self.attention_groups})",
        )
        expect(
            self.max_patch >= 1 and self.max_patch % 2 == 1,
            ConfigError,
            f"BDGFConfig.max_patch must be odd and >= 1, found {self.max_patch}",
        )
        expect(
            self.band_group == "auto" or (isinstance(self.band_group, int) and self.band_group >= 1),
            ConfigError,
            f"BDGFConfig.band_group must be 'auto' or an int >= 1, found {self.band_group!r}",
        )
        self.mamba()  # validates the Mamba fields

    def mamba(self) -> MambaConfig:
        """The Mamba block of the spectral branch (d_model = width)."""
        return MambaConfig(
            d_model=self.width, d_state=self.d_state, d_conv=self.d_conv, expand=self.expand, backend=self.scan_backend
        )
