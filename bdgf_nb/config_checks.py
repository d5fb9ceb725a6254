"""Type checks of dataclass config fields, run first in every config's `__post_init__`.

`check_fields(config)` compares each field with its annotation, coerces what is safe (a YAML
int for a float field, a list for a tuple field, numpy scalars) and raises ConfigError naming
the field, the expected type and the value found otherwise, so a typo in a catalog or a notebook
parameter fails at construction, not deep inside torch.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
import types
import typing
from pathlib import PurePath
from typing import Any

import numpy as np

from bdgf_nb.errors import ConfigError

_BOOLS = (bool, np.bool_)


def _coerce(value: Any, hint: Any) -> tuple[bool, Any]:
    """(value matches `hint`, value in its canonical python type). Unchecked hints match."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True, value
    if origin in (typing.Union, types.UnionType):
        for member in args:
            ok, coerced = _coerce(value, member)
            if ok:
                return True, coerced
        return False, value
    if hint is type(None):
        return value is None, value
    if hint is bool:
        ok = isinstance(value, _BOOLS)
        return ok, bool(value) if ok else value
    if hint is int:  # numpy integers become ints, so configs hash and print the same
        ok = isinstance(value, numbers.Integral) and not isinstance(value, _BOOLS)
        return ok, int(value) if ok else value
    if hint is float:  # ints are accepted and become floats (1 and 1.0 must hash alike)
        ok = isinstance(value, numbers.Real) and not isinstance(value, _BOOLS) and math.isfinite(value)
        return ok, float(value) if ok else value
    if hint is str:
        return isinstance(value, str), value
    if origin is tuple:  # lists (from YAML / JSON) are accepted and become tuples
        if not isinstance(value, tuple | list):
            return False, value
        items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        if args and len(items) != len(value):
            return False, value
        checked = [_coerce(v, h) for v, h in zip(value, items, strict=True)] if args else [(True, v) for v in value]
        return all(ok for ok, _ in checked), tuple(v for _, v in checked)
    if origin is typing.Literal:
        return value in args, value
    if isinstance(hint, type) and issubclass(hint, PurePath):  # a str becomes the Path type
        ok = isinstance(value, str | os.PathLike)
        return ok, hint(value) if ok and not isinstance(value, hint) else value
    if isinstance(hint, type):
        return isinstance(value, origin or hint), value
    if isinstance(origin, type):  # dict[str, int], list[...]: the container type only
        return isinstance(value, origin), value
    return True, value


def _describe(hint: Any) -> str:
    text = str(hint) if typing.get_origin(hint) or not isinstance(hint, type) else hint.__name__
    return text.replace("typing.", "").replace("NoneType", "None")


def check_fields(config: Any) -> None:
    """Check every init field of a dataclass config against its annotation, naming the field.

    int fields take integers (not bools), float fields finite reals, bool fields bools, str
    fields strings, `tuple[...]` fields tuples or lists of such items, dataclass fields an
    instance, unions any member. Values are put in their canonical type (numpy scalars become
    python, ints in float fields floats, lists tuples), so equal configs hash alike. Call it
    first in `__post_init__`, before range checks compare values."""
    cls = type(config)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(config):
        if not f.init or f.name not in hints:
            continue
        value = getattr(config, f.name)
        ok, coerced = _coerce(value, hints[f.name])
        if not ok:
            kind = "a finite number" if hints[f.name] is float else _describe(hints[f.name])
            raise ConfigError(f"{cls.__name__}.{f.name}: expected {kind}, found {type(value).__name__} {value!r}")
        if coerced is not value:
            object.__setattr__(config, f.name, coerced)  # also for frozen dataclasses
