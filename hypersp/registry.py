"""One ``Registry`` class, instantiated once per component kind.

A component is a class registered under a lowercase name together with the dataclass
that describes its configuration::

    @register_model("jasper", config=JasperConfig)
    class JasperModel(nn.Module):
        def __init__(self, cfg: JasperConfig, *, input_dim: int, vocab_size: int): ...

``MODELS.build(cfg, input_dim=80, vocab_size=70)`` looks up ``cfg.name`` and calls the
class with the config and the explicit dependencies. Every entry remembers the module and
the distribution (pip package) it came from, so ``--list`` and checkpoints can say where a
component was provided.
"""
from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Callable, Dict, List, Optional


class RegistryError(KeyError):
    """An unknown name, or a name registered twice with different classes."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Entry:
    name: str
    cls: type
    config: Optional[type]
    module: str

    @property
    def distribution(self) -> str:
        """The installed distribution that owns ``module`` ('hypersp' for built-ins)."""
        return _distribution_of(self.module)


def _distribution_of(module: str) -> str:
    top = module.split(".")[0]
    try:
        from importlib.metadata import packages_distributions

        dists = packages_distributions().get(top)
    except Exception:  # pragma: no cover - metadata unavailable
        dists = None
    return dists[0] if dists else top


class Registry:
    """Name -> component class, for one kind (``model``, ``task``, ...)."""

    def __init__(self, kind: str, base: Optional[Any] = None, require_config: bool = False, example: str = ""):
        """``base``: a class every registered class must subclass, or its dotted name (resolved on first use).
        ``require_config``: registering without ``config=`` is an error (kinds built from their config)."""
        self.kind = kind
        self.base = base
        self.require_config = require_config
        self._example = example
        self._entries: Dict[str, Entry] = {}

    def register(self, name: str, config: Optional[type] = None) -> Callable[[type], type]:
        """Class decorator. ``config`` is the dataclass of the component's settings.

        Registering the same class twice is harmless (modules can be re-imported);
        a different class under a taken name raises ``RegistryError`` naming both.
        """
        if not name or name != name.lower():
            raise ValueError(f"{self.kind} names are lowercase and non-empty, got {name!r}")
        if config is not None and not is_dataclass(config):
            raise TypeError(f"config for {self.kind} {name!r} must be a dataclass, got {config!r}")
        if config is not None and "name" not in {f.name for f in fields(config)}:
            raise TypeError(f"config {config.__qualname__} of {self.kind} {name!r} needs a 'name' field "
                            f"(name: str = {name!r}): configs select their component by name")
        if config is None and self.require_config:
            raise TypeError(f"@register_{self.kind}({name!r}) needs config=: a {self.kind} is built from its config "
                            f"dataclass (see {self._example})")

        def decorator(cls: type) -> type:
            self._check_base(name, cls)
            old = self._entries.get(name)
            if old is not None and _qualified(old.cls) != _qualified(cls):
                raise RegistryError(
                    f"{self.kind} name {name!r} is already taken by {_qualified(old.cls)}; "
                    f"cannot register {_qualified(cls)} under it"
                )
            self._entries[name] = Entry(name, cls, config, cls.__module__)
            cls.registered_name = name
            return cls

        return decorator

    def _check_base(self, name: str, cls: type) -> None:
        if isinstance(self.base, str):  # named lazily, so this module never imports torch itself
            module, _, attr = self.base.rpartition(".")
            if (cls.__module__, cls.__qualname__) == (module, attr):
                return  # the base registers itself (speech_recognition) while its module is still importing
            self.base = getattr(importlib.import_module(module), attr)
        if self.base is not None and not issubclass(cls, self.base):
            raise TypeError(f"{self.kind} {name!r}: {cls.__qualname__} must subclass {self.base.__qualname__} "
                            f"({self.base.__module__}); see docs/extending.md")

    def entry(self, name: str) -> Entry:
        _ensure_loaded()
        try:
            return self._entries[name]
        except KeyError:
            raise RegistryError(self._unknown(name)) from None

    def get(self, name: str) -> type:
        return self.entry(name).cls

    def config_class(self, name: str) -> Optional[type]:
        return self.entry(name).config

    def build(self, cfg: Any, **deps: Any) -> Any:
        """Instantiate the component named ``cfg.name`` with ``cfg`` and ``deps``."""
        return self.get(cfg.name)(cfg, **deps)

    def names(self) -> List[str]:
        _ensure_loaded()
        return sorted(self._entries)

    def entries(self) -> List[Entry]:
        _ensure_loaded()
        return [self._entries[n] for n in sorted(self._entries)]

    def __iter__(self):
        return iter(self.names())

    def __contains__(self, name: str) -> bool:
        _ensure_loaded()
        return name in self._entries

    def _unknown(self, name: str) -> str:
        known = ", ".join(f"{e.name} ({e.distribution})" for e in self.entries()) or "none"
        close = difflib.get_close_matches(name, list(self._entries), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        from hypersp.plugins import BROKEN_PLUGINS, UNAVAILABLE_BUILTINS

        missing = f" Built-ins not loaded: {', '.join(f'{m} ({why})' for m, why in UNAVAILABLE_BUILTINS.items())}." \
            if UNAVAILABLE_BUILTINS else ""
        missing += "".join(f" Left out: {why}" for why in BROKEN_PLUGINS.values())
        return (
            f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {known}.{missing} "
            f"A third-party {self.kind} must be installed (entry point 'hypersp.plugins') or loaded with --plugin MODULE."
        )


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


_LOADING = False


def _ensure_loaded() -> None:
    """Import built-ins and plugins the first time anything is looked up."""
    global _LOADING
    if _LOADING:
        return
    _LOADING = True
    try:
        from hypersp import plugins

        plugins.load_all()
    finally:
        _LOADING = False


# Each kind's base class (named, resolved on the first registration) is checked when a class registers.
TASKS = Registry("task", base="hypersp.tasks.speech_recognition.SpeechRecognitionTask")
MODELS = Registry("model", base="hypersp.models.base.SpeechModel")
CRITERIONS = Registry("criterion", base="torch.nn.Module")
DATASETS = Registry("dataset", base="torch.utils.data.Dataset")
TOKENIZERS = Registry("tokenizer", base="hypersp.tokenizers.base.Tokenizer")
APPS = Registry("app", base="hypersp.serve.demo_apps.DemoApp", require_config=True,
                example="hypersp/serve/demo_apps.py")
DECODERS = Registry("decoder", base="hypersp.decoding.base.Decoder")
VADS = Registry("vad", base="hypersp.inference.vads.Vad")

TEXT_NORMALIZERS = Registry("text_normalizer")  # str -> str functions: training targets
SCORING_NORMALIZERS = Registry("scoring_normalizer")  # str -> str functions: both sides before CER/WER
ITNS = Registry("itn", require_config=True, example="hypersp/text/itn.py")  # spoken -> written form, for display
PUNCTUATORS = Registry("punctuator", require_config=True, example="hypersp/text/punctuation.py")  # display marks
SPACERS = Registry("spacer", require_config=True, example="hypersp/text/spacing.py")  # display word spacing

ALL_REGISTRIES = {r.kind: r for r in (TASKS, MODELS, CRITERIONS, DATASETS, TOKENIZERS, APPS, TEXT_NORMALIZERS,
                                      SCORING_NORMALIZERS, DECODERS, VADS, ITNS, PUNCTUATORS, SPACERS)}

register_task = TASKS.register
register_model = MODELS.register
register_criterion = CRITERIONS.register
register_dataset = DATASETS.register
register_tokenizer = TOKENIZERS.register
register_app = APPS.register
register_decoder = DECODERS.register
register_vad = VADS.register
register_text_normalizer = TEXT_NORMALIZERS.register
register_scoring_normalizer = SCORING_NORMALIZERS.register
register_itn = ITNS.register
register_punctuator = PUNCTUATORS.register
register_spacer = SPACERS.register
