from dataclasses import dataclass

import pytest

from hypersp.registry import MODELS, TASKS, TOKENIZERS, Registry, RegistryError


@dataclass
class _Cfg:
    name: str = "thing"
    size: int = 3


def test_register_get_build_and_names():
    reg = Registry("widget")

    @reg.register("thing", config=_Cfg)
    class Thing:
        def __init__(self, cfg, *, scale):
            self.value = cfg.size * scale

    assert reg.get("thing") is Thing
    assert reg.config_class("thing") is _Cfg
    assert reg.build(_Cfg(size=4), scale=2).value == 8
    assert "thing" in reg.names()
    assert Thing.registered_name == "thing"


def test_registering_same_class_twice_is_harmless_but_a_different_class_is_an_error():
    reg = Registry("widget")

    class A:
        pass

    reg.register("a")(A)
    reg.register("a")(A)  # re-import of the same module
    B = type("B", (), {})
    with pytest.raises(RegistryError) as err:
        reg.register("a")(B)
    msg = str(err.value)
    assert "A" in msg and "B" in msg and "'a'" in msg


def test_unknown_name_lists_known_names_with_origin_and_suggests():
    with pytest.raises(RegistryError) as err:
        MODELS.get("jaspr")
    msg = str(err.value)
    assert "Did you mean 'jasper'" in msg
    assert "jasper (hypersp)" in msg


def test_names_must_be_lowercase_and_config_a_dataclass():
    reg = Registry("widget")
    with pytest.raises(ValueError):
        reg.register("Upper")
    with pytest.raises(TypeError):
        reg.register("x", config=dict)


def test_base_class_is_enforced():
    class Base:
        pass

    reg = Registry("widget", base=Base)
    with pytest.raises(TypeError):
        reg.register("x")(type("NotBase", (), {}))


def test_builtins_are_registered():
    assert {"jasper"} <= set(MODELS.names())
    assert {"speech_recognition", "synthetic", "synthetic_tel"} <= set(TASKS.names())
    assert {"char", "jamo", "english_char"} <= set(TOKENIZERS.names())


def test_every_kind_with_a_base_checks_it():
    """Not only models: a criterion, tokenizer, task, decoder, VAD, app or dataset that does not subclass its
    kind's base is refused in one line naming the base (and nothing is registered)."""
    from hypersp.registry import ALL_REGISTRIES

    bases = {"criterion": "Module", "tokenizer": "Tokenizer", "task": "SpeechRecognitionTask", "decoder": "Decoder",
             "vad": "Vad", "app": "DemoApp", "dataset": "Dataset", "model": "SpeechModel"}
    for kind, base in bases.items():
        registry = ALL_REGISTRIES[kind]
        registry.names()  # built-ins loaded: the base is resolved as it is in use
        with pytest.raises(TypeError, match=f"must subclass {base} ") as err:
            registry.register(f"not_a_{kind}", config=_Cfg)(type("Plain", (), {}))
        assert "\n" not in str(err.value)
        assert f"not_a_{kind}" not in registry.names()
