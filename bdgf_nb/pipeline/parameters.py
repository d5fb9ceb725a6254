"""The papermill parameters every notebook shares, checked once in the library.

A notebook calls `check_parameters(...)` first, so a bad value fails in one clear line (naming the
parameter, what was expected and what was found) before any work starts.
"""

from __future__ import annotations

from typing import Any

from bdgf_nb.data.catalog import load_catalog
from bdgf_nb.ddpm.masking import MODES
from bdgf_nb.errors import ConfigError, expect
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.presets import PRESETS


def check_parameters(**parameters: Any) -> None:
    """Check the papermill parameters the notebooks share (others pass unchecked): `dataset` a
    name in the catalog (`catalog`: a YAML of one's own, "" = the repo's), `quick`,
    `allow_unmeasurable`, `class_balanced` bools, `seed` an int >= 0, `seeds` an int >= 0 (0: the
    mode's default), `out_dir` a path string, `masking` a masking mode, `select_on` one of oa / aa
    / kappa, `preset` "" or a preset name (pipeline.presets.PRESETS; overrides `quick`). ConfigError naming the parameter otherwise; a notebook calls it first."""
    types = {"dataset": str, "quick": bool, "seed": int, "seeds": int, "out_dir": str, "masking": str, "catalog": str,
             "allow_unmeasurable": bool, "class_balanced": bool, "select_on": str, "preset": str}
    for name, value in parameters.items():
        kind = types.get(name)
        ok = kind is None or (type(value) is kind)  # exact: a bool is no seed, "0" no int
        expect(ok, ConfigError, f"parameter {name!r}: expected {getattr(kind, '__name__', kind)}, found {type(value).__name__} {value!r}")
    for name in ("seed", "seeds"):
        if name in parameters:
            expect(parameters[name] >= 0, ConfigError, f"parameter {name!r}: expected an integer >= 0, found {parameters[name]}")
    if "masking" in parameters:
        expect(parameters["masking"] in MODES, ConfigError, f"parameter 'masking': expected one of {list(MODES)}, found {parameters['masking']!r}")
    if "select_on" in parameters:
        expect(parameters["select_on"] in ("oa", "aa", "kappa"), ConfigError, f"parameter 'select_on': expected one of ['oa', 'aa', 'kappa'], found {parameters['select_on']!r}")
    if parameters.get("preset"):
        expect(parameters["preset"] in PRESETS, ConfigError, f"parameter 'preset': expected one of {list(PRESETS)} or \"\", found {parameters['preset']!r}")
    if "dataset" in parameters:
        catalog = load_catalog(parameters.get("catalog") or None)
        expect(parameters["dataset"] in catalog, ConfigError, f"parameter 'dataset': unknown {parameters['dataset']!r}; known: {sorted(catalog)}")


def run_context(**parameters: Any) -> RunContext:
    """`check_parameters`, then the run's `RunContext` from the parameters that shape it
    (dataset, quick, seed, out_dir, catalog, allow_unmeasurable, class_balanced, select_on)."""
    check_parameters(**parameters)
    keys = ("catalog", "allow_unmeasurable", "class_balanced", "select_on")
    return RunContext.create(parameters["dataset"], parameters["quick"], parameters.get("seed", 0), parameters.get("out_dir", "outputs/interactive"),
                             preset_name=parameters.get("preset", ""), **{k: parameters[k] for k in keys if k in parameters})
