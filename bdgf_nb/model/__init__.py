"""BDGF steps 3-4: the three diffusion-guided branches, mutual learning and the ensemble.

`scan` (selective scan, fast path tested against a readable reference) and `mamba` (the Mamba
block) serve the spectral branch; `guidance` holds the three guidance modules; `branches` the
CNN, Mamba and Transformer branches; `mutual` the mutual-learning loss; `bdgf` the whole model
and its ablation table.
"""
