"""BDGF steps 1-2: the masked multimodal DDPM and the diffusion features it gives.

`unet` (the denoiser), `diffusion` (forward process and epsilon loss, Ho et al. 2020), `masking`
(which modality is hidden, adaptively), `balance` (how much the denoiser relies on each
modality), `features` (the frozen denoiser's hierarchical feature maps of a whole scene).
The training loop that fits the denoiser lives in `bdgf_nb.train.pretrain`.
"""
