"""bdgf_nb."""
