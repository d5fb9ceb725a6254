"""What a reader sees: plotly figures (`viz`), the notebooks' widgets (`widgets`) and the
computations behind them (`explore`), result tables (`tables`) and sentences computed from a
run's numbers (`prose`), so a chapter's text never contradicts its own tables."""
