"""The parameters of a run, declared once.

`RunParameters` holds every parameter a chapter takes. From it come:
- each notebook's papermill `parameters` cell (`parameters_cell`: the fields that chapter reads,
  with these defaults and comments; tests/test_notebook_cells.py holds the cells equal to it);
- the notebook's `RunContext`: `ctx = run_context(globals())` checks the parameters the cell
  declared and builds the context every later call takes;
- `bdgf-run`'s options (`add_arguments`, `from_arguments`) and the papermill parameters it passes
  to each notebook (`for_notebook`).

A bad value fails at once, in one line naming the parameter, what was expected and what was
found (ConfigError).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Collection, Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any

from bdgf_nb.config_checks import check_fields
from bdgf_nb.data.benchmarks import BENCHMARKS
from bdgf_nb.data.catalog import catalog_entry, read_catalog
from bdgf_nb.ddpm.masking import MODES, SIGNALS
from bdgf_nb.errors import ConfigError, DataError, expect
from bdgf_nb.metrics import SELECTION_METRICS
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.presets import PRESETS


def _parameter(default: Any, help: str, choices: Collection[str] | None = None) -> Any:
    return field(default=default, metadata={"help": help, "choices": choices})


@dataclass(frozen=True)
class RunParameters:
    """Every parameter of a run; a chapter declares the ones it reads. On the command line a
    bool is a flag that turns it on (`bdgf-run` runs full size unless `--quick`)."""

    dataset: str = _parameter("synthetic", "catalog name (data_catalog.yaml, or your own catalog)")
    quick: bool = _parameter(True, "CI-size run: small models, few epochs, fewer pixels")
    seed: int = _parameter(0, "seed of the split and the DDPMs; model seeds are seed, seed+1, ...")
    seeds: int = _parameter(0, "paired model seeds in chapter 03; 0: the preset's (1 quick, 5 full)")
    masking: str = _parameter("adaptive", "masking of BDGF's DDPM (chapter 01)", MODES)
    out_dir: str = _parameter("../outputs/interactive", "checkpoints, caches and numbers of this run")
    shared_dir: str = _parameter(
        "", "checkpoints and caches here instead (a label-budget sweep's runs share them); empty: out_dir"
    )
    catalog: str = _parameter("", "a catalog YAML of your own (empty: the repository's data_catalog.yaml)")
    allow_unmeasurable: bool = _parameter(
        False, "go on, with warnings, where the split leaves a class out of train or test"
    )
    class_balanced: bool = _parameter(False, "class-balanced batches (off: chosen on validation, docs/PROTOCOL.md)")
    select_on: str = _parameter("kappa", "validation metric for early stopping and model selection", SELECTION_METRICS)
    preset: str = _parameter("", "run sizes overriding quick (docs/METHOD.md §6; paper: a GPU)", ("", *PRESETS))
    masking_signal: str = _parameter("feature", "the adaptive masking rule's signal (METHOD.md eq. (7))", SIGNALS)
    width: int = _parameter(0, "width d of every classifier branch; 0: the preset's (32 quick and full)")
    lambda_kl: float = _parameter(1.0, "weight of the mutual KL term (docs/METHOD.md eq. (18)); 0 switches it off")
    entropy_matching: bool = _parameter(False, "add the entropy-matching term to mutual learning (eq. (20))")

    labels_per_class: int = _parameter(
        0, "label budget: labelled pixels per class the classifiers and baselines learn from; 0: all"
    )
    split_block: int = _parameter(
        0, "block side of the disjoint split, pixels (0: the catalog's or max(16, min(H, W) // 4))"
    )
    split_stripes: int = _parameter(0, "a pixel table's column stripes (0: the catalog's or the fewest that measure)")

    def __post_init__(self) -> None:
        check_fields(self)  # types, naming the field (a bool is no seed, "0" no int)
        for name in ("seed", "seeds", "width", "labels_per_class", "split_block", "split_stripes"):
            expect(
                getattr(self, name) >= 0,
                ConfigError,
                f"RunParameters.{name}: expected an integer >= 0, found {getattr(self, name)}",
            )
        expect(
            self.masking in MODES,
            ConfigError,
            f"RunParameters.masking: expected one of {list(MODES)}, found {self.masking!r}",
        )
        expect(
            self.masking_signal in SIGNALS,
            ConfigError,
            f"RunParameters.masking_signal: expected one of {list(SIGNALS)}, found {self.masking_signal!r}",
        )
        expect(self.lambda_kl >= 0, ConfigError, f"RunParameters.lambda_kl: expected >= 0, found {self.lambda_kl}")
        expect(
            self.select_on in SELECTION_METRICS,
            ConfigError,
            f"RunParameters.select_on: expected one of {list(SELECTION_METRICS)}, found {self.select_on!r}",
        )
        expect(
            self.preset in ("", *PRESETS),
            ConfigError,
            f"RunParameters.preset: expected '' or one of {list(PRESETS)}, found {self.preset!r}",
        )
        try:
            _, raw = read_catalog(self.catalog or None)
        except DataError as err:
            raise ConfigError(f"RunParameters.catalog: {err}") from None
        known = sorted({*raw, *BENCHMARKS})
        expect(self.dataset in known, ConfigError, f"RunParameters.dataset: unknown {self.dataset!r}; known: {known}")
        try:  # this dataset's entry only: a broken neighbour in the catalog does not stop this run
            catalog_entry(self.dataset, self.catalog or None)
        except DataError as err:
            raise ConfigError(f"RunParameters.catalog: {err}") from None

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]) -> RunParameters:
        """The parameters a notebook's namespace holds (its parameters cell, after papermill's
        injection); the others keep their defaults."""
        return cls(**{f.name: namespace[f.name] for f in fields(cls) if f.name in namespace})

    def context(self) -> RunContext:
        """The run's `RunContext`: the scene, its sizes, the seed and the output folder."""
        return RunContext.create(
            self.dataset,
            self.quick,
            self.seed,
            self.out_dir,
            catalog=self.catalog or None,
            allow_unmeasurable=self.allow_unmeasurable,
            class_balanced=self.class_balanced,
            select_on=self.select_on,
            preset_name=self.preset,
            masking_signal=self.masking_signal,
            width=self.width,
            lambda_kl=self.lambda_kl,
            entropy_matching=self.entropy_matching,
            labels_per_class=self.labels_per_class or None,
            split_block=self.split_block,
            split_stripes=self.split_stripes,
            shared_dir=self.shared_dir or None,
        )

    def for_notebook(self, declared: Collection[str]) -> dict[str, Any]:
        """The papermill parameters of a notebook whose parameters cell declares `declared`
        (papermill would inject any other name with a warning)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name in declared}

    @property
    def preset_name(self) -> str:
        return self.preset or ("quick" if self.quick else "full")


def run_context(namespace: Mapping[str, Any]) -> RunContext:
    """`ctx = run_context(globals())`, a notebook's first call: its parameters checked, then the
    run's context."""
    return RunParameters.from_namespace(namespace).context()


def parameters_cell(names: Collection[str]) -> str:
    """The source of a papermill parameters cell declaring `names` (in the dataclass's order):
    `name: type = default  # help`, one per line."""
    unknown = sorted(set(names) - {f.name for f in fields(RunParameters)})
    expect(not unknown, ConfigError, f"parameters_cell: expected RunParameters fields, found {unknown}")

    def literal(value: Any) -> str:  # strings in double quotes, as ruff formats them
        return json.dumps(value) if isinstance(value, str) else repr(value)

    def comment(f: Field[Any]) -> str:
        choices = [repr(c) for c in f.metadata["choices"] or () if c]
        return f.metadata["help"] + (f": {', '.join(choices)}" if choices else "")

    return "\n".join(
        f"{f.name}: {f.type} = {literal(f.default)}  # {comment(f)}" for f in fields(RunParameters) if f.name in names
    )


def add_arguments(
    parser: argparse.ArgumentParser,
    skip: Collection[str] = ("out_dir", "shared_dir"),
    more_help: Mapping[str, str] | None = None,
) -> None:
    """One option per field (`--select-on` for select_on), with the field's help (and
    `more_help[name]` after it); bools are flags. `skip`: the fields the caller sets itself (the
    run's folders, by default)."""
    for f in fields(RunParameters):
        if f.name in skip:
            continue
        flag, text = "--" + f.name.replace("_", "-"), f.metadata["help"] + (more_help or {}).get(f.name, "")
        if f.type == "bool":
            parser.add_argument(flag, action="store_true", help=text)
        else:
            kind = _count if f.type == "int" else float if f.type == "float" else str
            parser.add_argument(flag, type=kind, default=f.default, choices=f.metadata["choices"], help=text)


def _count(text: str) -> int:
    """argparse type of the int parameters (seeds and counts, all >= 0)."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, found {text!r}")
    return int(text)


def from_arguments(args: argparse.Namespace, **overrides: Any) -> RunParameters:
    """The parameters `add_arguments` parsed (`overrides`: fields the caller sets itself)."""
    values = {f.name: getattr(args, f.name) for f in fields(RunParameters) if hasattr(args, f.name)}
    return RunParameters(**{**values, **overrides})
