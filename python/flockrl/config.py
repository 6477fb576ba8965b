"""Algorithm configs: dataclasses with a docstring under every field, typed
overrides from the command line (``--set lr=1e-3``) and from files, and
errors that name the key, the expected type and the valid choices."""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import inspect
import json
import math
import typing
from pathlib import Path
from typing import Any

__all__ = ["Config"]


def _field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field, read from the class source."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass) or klass is Config:
            continue
        tree = ast.parse(inspect.getsource(klass).lstrip())
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, after in zip(body, body[1:]):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                docs[node.target.id] = inspect.cleandoc(after.value.value)
    return docs


def _type_name(t: Any) -> str:
    if typing.get_origin(t) is tuple:
        return f"comma-separated {typing.get_args(t)[0].__name__}s"
    return getattr(t, "__name__", str(t))


class Config:
    """Base class for algorithm configs (subclasses are dataclasses, checked
    on construction)."""

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def field_types(cls) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        return {f.name: hints[f.name] for f in dataclasses.fields(cls)}  # type: ignore[arg-type]

    @classmethod
    def help(cls) -> dict[str, str]:
        """Each field's docstring."""
        return _field_docs(cls)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def replace(self, overrides: dict[str, Any]) -> Config:
        """A copy with `overrides` applied: values of the field's type, or
        strings parsed as that type (as ``--set key=value`` gives them)."""
        types = self.field_types()
        values = {}
        for key, value in overrides.items():
            if key not in types:
                raise ValueError(f"unknown config key {key!r} for {type(self).__name__}; "
                                 f"valid keys: {', '.join(types)}")
            values[key] = self._coerce(key, value, types[key])
        return dataclasses.replace(self, **values)  # type: ignore[type-var]

    @classmethod
    def presets(cls) -> dict[str, dict[str, Any]]:
        """Env id, or a pattern of ids such as "ALE/*" -> the values that
        differ from the defaults for that env (the defaults target
        CartPole-v1). Subclasses override."""
        return {}

    @classmethod
    def preset_for(cls, env: str) -> dict[str, Any]:
        """The preset of `env`: its own, else the first pattern it matches, else none."""
        presets = cls.presets()
        if env in presets:
            return presets[env]
        return next((values for pattern, values in presets.items() if fnmatch.fnmatchcase(env, pattern)), {})

    @classmethod
    def for_env(cls, env: str) -> Config:
        """The defaults for `env`: the class defaults with its preset, if any."""
        return cls().replace({**cls.preset_for(env), "env": env})

    @classmethod
    def from_file(cls, path: str | Path) -> dict[str, Any]:
        """Overrides read from a JSON or YAML file of ``key: value`` pairs."""
        text = Path(path).read_text()
        if str(path).endswith((".yaml", ".yml")):
            try:
                import yaml
            except ImportError:
                raise ValueError(f"{path}: reading YAML needs PyYAML (pip install pyyaml); "
                                 "or write the config as JSON") from None
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of config keys to values, got {type(data).__name__}")
        return data

    @staticmethod
    def parse_sets(pairs: list[str]) -> dict[str, str]:
        """``["lr=1e-3", "dueling=true"]`` -> {"lr": "1e-3", "dueling": "true"}."""
        out = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise ValueError(f"--set: expected key=value, got {pair!r}")
            out[key.strip()] = value.strip()
        return out

    def validate(self) -> None:
        """Type checks every field; subclasses add range checks."""
        for key, t in self.field_types().items():
            self._coerce(key, getattr(self, key), t, parse=False)

    def check_range(self, key: str, low: float | None, high: float | None, *, low_inclusive: bool = True) -> None:
        value = getattr(self, key)
        too_low = low is not None and (value < low if low_inclusive else value <= low)
        too_high = high is not None and value > high
        if too_low or too_high or (isinstance(value, float) and not math.isfinite(value)):
            lo = "" if low is None else (f">= {low}" if low_inclusive else f"> {low}")
            hi = "" if high is None else f"<= {high}"
            bounds = " and ".join(b for b in (lo, hi) if b)
            raise ValueError(f"config {key}: expected a value {bounds}, got {value!r}")

    def _coerce(self, key: str, value: Any, t: Any, parse: bool = True) -> Any:
        def fail() -> ValueError:
            return ValueError(f"config {key}: expected {_type_name(t)}, got {value!r}")

        if typing.get_origin(t) is tuple:
            inner = typing.get_args(t)[0]
            if parse and isinstance(value, str):
                try:
                    return tuple(inner(v) for v in value.split(",") if v.strip())
                except ValueError:
                    raise fail() from None
            if isinstance(value, (list, tuple)) and all(isinstance(v, inner) and not isinstance(v, bool)
                                                        for v in value):
                return tuple(value)
            raise fail()
        if t is bool:
            if parse and isinstance(value, str):
                lowered = value.lower()
                if lowered in ("true", "1", "yes", "on"):
                    return True
                if lowered in ("false", "0", "no", "off"):
                    return False
                raise fail()
            if isinstance(value, bool):
                return value
            raise fail()
        if t is int:
            if parse and isinstance(value, str):
                try:
                    return int(value.replace("_", ""))
                except ValueError:
                    raise fail() from None
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            raise fail()
        if t is float:
            if parse and isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    raise fail() from None
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            raise fail()
        if t is str:
            if isinstance(value, str):
                return value
            raise fail()
        raise TypeError(f"config {key}: unsupported field type {t!r}")
