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


LIST_SPEC = {
    "bits": Param(int, many=True, smoke=(2,), local=(2, 4), paper=(2, 3, 4, 8), low=2, high=8),
    "taus": Param(float, many=True, smoke=(0.5,), local=(0.25, 0.5), paper=(0.5,), low=0.0, high=1.0),
    "sizes": Param(str, many=True, smoke=("16x1",), local=("32x2",), paper=("EleutherAI/pythia-70m",)),
}


@pytest.mark.parametrize("value, expected", [
    ([2, 3], (2, 3)), ((8,), (8,)), ("2, 3,4", (2, 3, 4)), (4, (4,)),
])
def test_list_parameter_takes_lists_tuples_strings_and_scalars(value, expected):
    assert resolve("local", LIST_SPEC, bits=value).bits == expected


def test_list_parameter_converts_and_checks_every_item():
    cfg = resolve("local", LIST_SPEC, taus="0.25,1", sizes="16x1, 32x2")
    assert cfg.taus == (0.25, 1.0) and all(isinstance(t, float) for t in cfg.taus)
    assert cfg.sizes == ("16x1", "32x2")
    assert resolve("local", LIST_SPEC).bits == (2, 4)  # profile defaults become tuples (the Config is frozen)


@pytest.mark.parametrize("override, message", [
    ({"bits": [2, 9]}, r"bits\[1\]=9 is above its maximum 8"),
    ({"bits": "2,x"}, r"bits: item 'x' is not a int"),
    ({"bits": []}, r"bits is an empty list"),
    ({"bits": [2.5]}, r"bits\[0\]=2.5 has type float; expected int"),
    ({"taus": [0.5, float("nan")]}, r"taus\[1\]=nan must be a finite number"),
])
def test_list_parameter_errors_name_the_item(override, message):
    with pytest.raises(ValueError, match=message):
        resolve("local", LIST_SPEC, **override)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_nan_and_infinities_are_refused(value):
    with pytest.raises(ValueError, match=r"parameter lr=.* must be a finite number"):
        resolve("local", SPEC, lr=value)


def test_a_forced_profile_is_announced(monkeypatch, capsys):
    monkeypatch.setenv("SUPPORT_PROFILE", "smoke")
    resolve("local", SPEC)
    assert "profile 'smoke' forced by $SUPPORT_PROFILE (the parameters cell asked for 'local')" in capsys.readouterr().out
    resolve("smoke", SPEC)
    assert capsys.readouterr().out == ""  # nothing to announce when the notebook asked for it
