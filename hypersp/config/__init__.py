"""Configuration: dataclass defaults < YAML files < ``key=value`` overrides (OmegaConf, struct mode).

``hypersp.config.schema`` (the dataclasses) needs neither torch nor omegaconf, so the composition
functions are imported on first use: a torch-free ONNX deployment can read the schema alone.
"""
from hypersp.config.schema import Config, DecodingConfig, OptimConfig, TrainerConfig  # noqa: F401

_COMPOSE_NAMES = ("ConfigError", "compose", "config_from_dict", "require", "to_yaml")


def __getattr__(name):
    if name in _COMPOSE_NAMES:
        import importlib

        module = importlib.import_module("hypersp.config.composition")
        for exported in _COMPOSE_NAMES:  # bind them all: later lookups skip __getattr__
            globals()[exported] = getattr(module, exported)
        return globals()[name]
    raise AttributeError(f"module 'hypersp.config' has no attribute {name!r}")
