"""Scoring a trained classifier: its predictions (`predict`), whole-scene maps (`maps`) and the
maps written as GeoTIFF, PNG and area table (`export`). The metrics are `bdgf_nb.metrics`."""
