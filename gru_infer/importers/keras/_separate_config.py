"""The architecture of a Keras model saved apart from its weights: `model.to_json()` (JSON) or
`model.to_yaml()` (YAML, Keras < 2.6), for `gru_infer.load(weights_path, config=config_path)`.

YAML is read with PyYAML's safe loader; the one non-standard tag Keras 2 writes,
`!!python/tuple` (batch_input_shape), is read as a list. Nothing else is constructed: a config that
names other Python objects is refused.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict

from ..._optional import require


def load_config_file(path) -> Dict[str, Any]:
    """The model config dict ({"class_name": ..., "config": ...}) of a to_json / to_yaml file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no Keras config file at {path!r}")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: a Keras config must be JSON or YAML text (model.to_json() / to_yaml())") from None
    if text.lstrip().startswith("{"):
        try:
            config = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e})") from None
    else:
        config = _yaml(text, path)
    if not isinstance(config, dict) or "class_name" not in config or "config" not in config:
        raise ValueError(f"{path}: expected a Keras model config with 'class_name' and 'config' (what "
                         f"model.to_json() / model.to_yaml() write), got {type(config).__name__}"
                         + (f" with keys {sorted(config)[:8]}" if isinstance(config, dict) else ""))
    return config


def _yaml(text: str, path: str):
    yaml = require("yaml")

    class _KerasLoader(yaml.SafeLoader):
        pass

    _KerasLoader.add_constructor("tag:yaml.org,2002:python/tuple",
                                 lambda loader, node: loader.construct_sequence(node))
    try:
        return yaml.load(text, Loader=_KerasLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not a readable YAML Keras config ({str(e).splitlines()[0]})") from None
