"""BDGF step 5, measured: what the features and branches carry (the linear probe, modality
information, complementarity and embeddings) and the statistics of paired comparisons."""
