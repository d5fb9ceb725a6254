"""Scoring: metrics (OA, AA, kappa), predictions of a trained classifier, whole-scene maps."""
