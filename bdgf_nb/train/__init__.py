"""Training loops: the DDPM pretraining (`pretrain`), the classifier (`classifier`) and the
data-parallel helpers both use under torchrun (`distributed`)."""
