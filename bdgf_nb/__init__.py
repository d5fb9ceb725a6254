"""bdgf_nb: Balanced Diffusion-Guided Fusion for multimodal remote-sensing classification.

The method's design is docs/METHOD.md. Sub-packages are layers, low to high; a module imports
only its own layer or lower ones (tests/test_architecture.py checks it, "" is the root modules).
Importing the package changes nothing in the process, except in a Jupyter kernel that has not
loaded torch yet and whose user chose no OpenMP wait policy: there it sets PASSIVE, so idle
threads sleep instead of spinning on cores other kernels need (`openmp.apply_kernel_default`);
the command lines set their policy themselves.
"""

from bdgf_nb import openmp as _openmp

_openmp.apply_kernel_default()

LAYERS: tuple[str, ...] = (
    "",
    "data",
    "ddpm",
    "model",
    "evaluate",
    "train",
    "analysis",
    "presentation",
    "pipeline",
    "cli",
)
