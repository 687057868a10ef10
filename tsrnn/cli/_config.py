"""Estimator parameters and column roles for the commands that train: defaults,
then a TOML or YAML config, then flags, then ``--set``."""

from __future__ import annotations

import ast
import difflib
from pathlib import Path
from typing import Any

from tsrnn.cli._options import TASKS, UsageError, _one_line

CONFIG_KEYS = {"task": None, "data": {"path", "time_col", "id_col", "target"},
               "model": None, "output": {"model"}}


def read_config(path: Path, more: dict | None = None) -> dict:
    """Read a TOML, YAML or JSON run config and check its keys (``more``: tables a
    command takes beyond :data:`CONFIG_KEYS`, as they are); relative data and model
    paths become relative to the config file's folder."""
    keys = {**CONFIG_KEYS, **(more or {})}
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} not found")
    suffix = path.suffix.lower()
    text = path.read_text(encoding="utf-8")
    if suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            try:
                import tomli as tomllib
            except ImportError:
                raise ImportError("reading TOML on Python 3.10 needs tomli: pip install "
                                  "tomli (or use a YAML config)") from None
        try:
            config = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{path} is not valid TOML: {err}") from None
    elif suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ImportError("reading YAML configs needs PyYAML: pip install pyyaml") from None
        try:
            config = yaml.safe_load(text) or {}
        except yaml.YAMLError as err:
            # PyYAML's message spans lines (the context, then the problem and where)
            mark, problem = getattr(err, "problem_mark", None), getattr(err, "problem", None)
            if mark is None or problem is None:
                raise ValueError(f"{path} is not valid YAML: {_one_line(err)}") from None
            raise ValueError(f"{path} is not valid YAML at line {mark.line + 1}, column "
                             f"{mark.column + 1}: {problem}") from None
    elif suffix == ".json":
        import json

        try:
            config = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON: {err}") from None
    else:
        raise ValueError(f"config {path} must end in .toml, .yaml, .yml or .json")
    if not isinstance(config, dict):
        raise ValueError(f"{path} must hold a table of keys (task, [data], [model], [output])")
    for key, value in config.items():
        if key not in keys:
            expected = ", ".join(["task", *(f"[{k}]" for k in keys if k != "task")])
            raise ValueError(f"{path}: unknown key {key!r}{_did_you_mean(key, keys)}; "
                             f"expected {expected}")
        allowed = keys[key]
        if key != "task" and not isinstance(value, dict):
            raise ValueError(f"{path}: {key} must be a table ([{key}])")
        for inner in value if allowed else ():
            if inner not in allowed:
                raise ValueError(f"{path}: unknown key {inner!r} in [{key}]"
                                 f"{_did_you_mean(inner, allowed)}; expected {sorted(allowed)}")
    if config.get("task") not in (None, *TASKS):
        raise ValueError(f"{path}: task must be one of {sorted(TASKS)}, got {config['task']!r}")
    for table, key in (("data", "path"), ("output", "model")):
        if key in config.get(table, {}):
            if not isinstance(config[table][key], str) or not config[table][key]:
                raise ValueError(f"{path}: [{table}] {key} must be a file path in quotes, got "
                                 f"{config[table][key]!r}")
            config[table][key] = path.parent / config[table][key]
    return config


def _did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _parse_value(raw: str) -> Any:
    lowered = raw.strip().lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw  # a bare word, e.g. --set cell=lstm


def _estimator_class(task: str):
    import tsrnn

    return getattr(tsrnn, TASKS[task])


def _params(args, task: str, config: dict, flags: dict[str, Any]) -> dict:
    """Estimator parameters: defaults < config [model] < flags < --set."""
    cls = _estimator_class(task)
    known = cls().get_params()
    params: dict[str, Any] = {"random_state": 0}
    for name, value in config.get("model", {}).items():
        if name not in known:
            raise ValueError(f"{args.config}: unknown {cls.__name__} parameter {name!r} in "
                             f"[model]{_did_you_mean(name, known)}")
        params[name] = value
    params.update({k: v for k, v in flags.items() if v is not None})
    for item in args.overrides:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--set takes NAME=VALUE, got {item!r}")
        if name not in known:
            raise UsageError(f"--set {name}: unknown {cls.__name__} parameter"
                             f"{_did_you_mean(name, known)}")
        value = _parse_value(raw)
        if isinstance(value, str) and value.strip()[:1] in "[({\"'" and value.strip():
            raise UsageError(f"--set {name}: {raw!r} is not a value Python can read (an "
                             "unclosed bracket or quote?)")
        params[name] = value
    return params


def _columns(args, config: dict) -> dict:
    """Column roles: config [data] < flags."""
    data = config.get("data", {})
    columns = {k: data.get(k) for k in ("time_col", "id_col", "target")}
    for key in columns:
        if getattr(args, key, None) is not None:
            columns[key] = getattr(args, key)
    return columns


def _training_flags_given(args, flags: dict) -> bool:
    return bool(args.config or args.overrides or any(v is not None for v in flags.values())
                or any(getattr(args, k) for k in ("time_col", "id_col", "target")))


def _training_flags(args, **more) -> dict:
    """The estimator parameters the shared training options (--cell, --hidden-size,
    --epochs, --n-models, --seed, --devices, --distributed, --resample, --fill,
    --freq) set, plus a command's own."""
    return {"cell": args.cell, "hidden_size": args.hidden_size,
            "max_epochs": args.max_epochs, "n_models": args.n_models,
            "random_state": args.random_state,
            "devices": args.devices, "distributed": args.distributed,
            "resample": args.resample, "fill": args.fill, "freq": args.freq, **more}
