"""The method's steps as a few calls, which the notebooks and command lines share: the run's
context and parameters, presets (quick / full / paper sizes), the steps (load -> split ->
pretrain -> features -> train -> score), notebook 03's comparison and its parallel schedule,
and the per-notebook records that `bdgf-run` merges into summary.json."""
