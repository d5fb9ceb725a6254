"""Reading the results: baselines, the linear probe, interpretation measures, tables,
plotly figures and the notebooks' widgets."""
