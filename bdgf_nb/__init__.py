"""bdgf_nb: Balanced Diffusion-Guided Fusion for multimodal remote-sensing classification.

Importing the package before torch sets OMP_WAIT_POLICY=PASSIVE unless the user chose a policy:
torch and numba each bring an OpenMP runtime whose idle threads busy-wait by default, and on a
shared 2-core machine that spinning made training steps 10-40x slower (measured; see README).
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
