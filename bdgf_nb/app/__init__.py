"""The notebooks' steps as a few calls: presets (quick / full sizes), the pipeline (load ->
split -> pretrain -> features -> train -> score), the shared parameter check and the per-notebook
result records that `bdgf-run` merges into summary.json."""
