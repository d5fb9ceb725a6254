"""Command lines: `bdgf-run` (notebooks headless), `bdgf-bench` (speed), the torchrun entry."""
