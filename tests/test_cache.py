import os

import pytest

from support.cache import (COMPLETE_MARKER, atomic_dir, atomic_write_text, cache_dir, is_complete, read_marker,
                           sha256_file, stable_hash)


def test_cache_dir_follows_the_environment(tmp_cache):
    assert cache_dir() == tmp_cache and tmp_cache.is_dir()


def test_sha256_known_answer(tmp_path):
    f = tmp_path / "abc"
    f.write_bytes(b"abc")
    assert sha256_file(f) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_stable_hash_ignores_key_order():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})


def test_atomic_dir_publishes_only_on_success(tmp_path):
    target = tmp_path / "thing"
    with atomic_dir(target, {"k": 1}) as scratch:
        (scratch / "f.txt").write_text("x")
        assert not target.exists()
    assert is_complete(target) and read_marker(target) == {"k": 1}
    assert (target / "f.txt").read_text() == "x"
    assert [p.name for p in tmp_path.iterdir()] == ["thing"]


def test_atomic_dir_interrupted_leaves_nothing(tmp_path):
    target = tmp_path / "thing"
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(target) as scratch:
            (scratch / "half.bin").write_bytes(b"0" * 100)
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_an_unfinished_folder(tmp_path):
    target = tmp_path / "thing"
    target.mkdir()
    (target / "stale").write_text("old")
    assert not is_complete(target)
    with atomic_dir(target) as scratch:
        (scratch / "new").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == [COMPLETE_MARKER, "new"]


def test_atomic_write_text(tmp_path):
    path = tmp_path / "sub" / "f.json"
    atomic_write_text(path, "{}")
    assert path.read_text() == "{}"
    assert os.listdir(path.parent) == ["f.json"]
