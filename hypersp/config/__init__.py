"""Configuration: dataclass defaults < YAML files < ``key=value`` overrides (OmegaConf, struct mode)."""
from hypersp.config.compose import ConfigError, compose, config_from_dict, require, to_yaml  # noqa: F401
from hypersp.config.schema import Config, DecodingConfig, OptimConfig, TrainerConfig  # noqa: F401
