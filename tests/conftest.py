"""Runs before any test module imports torch: see bdgf_nb/__init__.py for why."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
