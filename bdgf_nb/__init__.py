"""bdgf_nb: Balanced Diffusion-Guided Fusion for multimodal remote-sensing classification.

The method's design is docs/METHOD.md. Sub-packages are layers, low to high; a module imports
only its own layer or lower ones (tests/test_architecture.py checks it, "" is the root modules).
Importing the package changes nothing in the process: the command lines that own the cores set
their threading policy themselves (`openmp`).
"""

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
