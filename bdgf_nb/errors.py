"""Project exceptions: one type per kind of failure, each message says what was expected and found.

Users bring their own scenes and configs; an error must name the file, key or field at fault
instead of surfacing a traceback from deep inside numpy or torch.
"""

from __future__ import annotations


class BDGFError(Exception):
    """Base class of every error this project raises on purpose."""


class DataError(BDGFError, ValueError):
    """A scene, catalog entry or array is malformed (missing file, bad key, shape, NaN, labels)."""


class ConfigError(BDGFError, ValueError):
    """A config field is out of range or names an unknown choice."""


class CheckpointError(BDGFError):
    """A checkpoint or cache file is missing, corrupt, or belongs to another config."""


class CorruptCheckpointError(CheckpointError):
    """The file is there but unusable (not a checkpoint, truncated, hash mismatch): rebuild it."""


class ResourceError(BDGFError):
    """A scene or model would not fit in memory; the message gives the estimate and what is free."""


def expect(condition: bool, error: type[BDGFError], message: str) -> None:
    """Raise `error(message)` unless `condition` holds (keeps validation code flat)."""
    if not condition:
        raise error(message)
