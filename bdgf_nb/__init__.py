"""bdgf_nb: Balanced Diffusion-Guided Fusion for multimodal remote-sensing classification.

Importing the package before torch sets OMP_WAIT_POLICY=PASSIVE unless the user chose a policy
(bdgf_nb.openmp says why, and which commands ask for a short spin instead).
"""

from bdgf_nb import openmp as _openmp  # noqa: F401  (sets the default in os.environ)
