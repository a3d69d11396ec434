import pytest

from support.profiles import COMMON, PROFILES, Config, Param, resolve

SPEC = {
    "steps": Param(int, smoke=2, local=20, paper=200, low=1),
    "lr": Param(float, smoke=0.1, local=0.01, paper=0.001, low=0.0, high=1.0),
    "model": Param(str, smoke="tiny", local="smollm2", paper="meta-llama/Meta-Llama-3-8B"),
    "bits": Param(int, smoke=4, local=4, paper=4, choices=(2, 3, 4, 8)),
    "flag": Param(bool, smoke=False, local=True, paper=True),
    "note": Param((str, type(None)), smoke=None, local=None, paper="x"),
}


@pytest.fixture(autouse=True)
def _no_forced_profile(monkeypatch):
    monkeypatch.delenv("SUPPORT_PROFILE", raising=False)


@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_takes_its_defaults(profile):
    cfg = resolve(profile, SPEC)
    assert cfg.profile == profile
    for name, param in {**COMMON, **SPEC}.items():
        assert cfg[name] == getattr(param, profile)


def test_overrides_replace_defaults_and_none_keeps_them():
    cfg = resolve("local", SPEC, steps=7, lr=None)
    assert cfg.steps == 7 and cfg.lr == 0.01


def test_int_is_accepted_for_float_and_converted():
    cfg = resolve("local", SPEC, lr=1)
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)


def test_unknown_profile_is_a_clear_error():
    with pytest.raises(ValueError, match=r"profile='fast' is unknown.*smoke.*local.*paper"):
        resolve("fast", SPEC)


@pytest.mark.parametrize("override, message", [
    ({"steps": "10"}, r"steps='10' has type str; expected int"),
    ({"steps": True}, r"steps=True has type bool"),
    ({"steps": 2.5}, r"steps=2.5 has type float"),
    ({"steps": 0}, r"steps=0 is below its minimum 1"),
    ({"lr": 3.0}, r"lr=3.0 is above its maximum 1.0"),
    ({"bits": 1}, r"bits=1 is not one of \(2, 3, 4, 8\)"),
    ({"flag": 1}, r"flag=1 has type int; expected bool"),
    ({"seed": -1}, r"seed=-1 is below its minimum 0"),
    ({"device": "tpu"}, r"device='tpu' is not one of"),
])
def test_bad_overrides_name_the_parameter(override, message):
    with pytest.raises(ValueError, match=message):
        resolve("local", SPEC, **override)


def test_unknown_parameter_is_rejected():
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['stepz'\]"):
        resolve("local", SPEC, stepz=3)


def test_optional_parameter_accepts_none():
    assert resolve("local", SPEC).note is None
    assert resolve("paper", SPEC).note == "x"


def test_config_is_frozen_and_serialisable():
    cfg = resolve("smoke", SPEC)
    with pytest.raises(AttributeError, match="frozen"):
        cfg.steps = 3
    with pytest.raises(AttributeError, match="no parameter 'missing'"):
        _ = cfg.missing
    assert cfg.as_dict()["profile"] == "smoke"
    assert list(cfg.table().index)[:2] == ["profile", "seed"]
    assert isinstance(cfg, Config) and len(cfg) == len(COMMON) + len(SPEC)


def test_environment_forces_the_profile(monkeypatch):
    monkeypatch.setenv("SUPPORT_PROFILE", "smoke")
    assert resolve("local", SPEC).steps == 2
