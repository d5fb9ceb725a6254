"""BDGF steps 3-4: the three diffusion-guided branches, mutual learning and the ensemble, and
the baselines they are compared with.

`scan` (selective scan: a readable reference, the numba kernels of `scan_numba` and mamba_ssm's)
and `mamba` (the Mamba block) serve the spectral branch; `guidance` holds the three guidance
modules; `branches` the CNN, Mamba and Transformer branches; `mutual` the mutual-learning loss;
`ensemble` the rules that combine the branches; `config` and `bdgf` the whole model and its
ablations; `baselines` SVM and random forest on pixel features.
"""
