import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from support import plots
from support.device import pick_device
from support.seed import seed_everything


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="device='tpu' is not valid"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU is visible"):
            pick_device("cuda")


def test_seed_everything_reproduces_all_generators():
    gen = seed_everything(123)
    first = (np.random.rand(), torch.rand(2), torch.rand(1, generator=gen))
    gen = seed_everything(123)
    second = (np.random.rand(), torch.rand(2), torch.rand(1, generator=gen))
    assert first[0] == second[0] and torch.equal(first[1], second[1]) and torch.equal(first[2], second[2])
    with pytest.raises(ValueError, match="seed=-1"):
        seed_everything(-1)


def test_every_figure_is_labelled():
    plots.set_style()
    fig, ax = plt.subplots()
    plots.labelled(ax, "t", "x", "y")
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("t", "x", "y")
    with pytest.raises(ValueError, match="title and both axis labels"):
        plots.labelled(ax, "t", "", "y")
    plt.close(fig)


def test_progress_prints_stamped_lines_where_it_cannot_redraw(monkeypatch, capsys):
    import time

    from support import progress

    monkeypatch.setattr(progress, "interactive", lambda: False)
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.05)
    for _ in progress.bar(range(4), desc="train demo"):
        time.sleep(0.06)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) >= 3 and all(line.startswith("[") and "train demo" in line for line in lines)
    assert "\r" not in "".join(lines)


def test_strict_glue_refuses_a_key_glued_twice(monkeypatch):
    from support import glue as glue_module
    monkeypatch.setattr(glue_module, "_VALUES", {})
    monkeypatch.delenv(glue_module.STRICT_ENV, raising=False)
    glue_module.glue("twice", 1.0)
    assert glue_module.glue("twice", 2.0) == 2.0  # an interactive re-run may re-glue
    monkeypatch.setenv(glue_module.STRICT_ENV, "1")
    with pytest.raises(ValueError, match="'twice' was already glued"):
        glue_module.glue("twice", 3.0)
    assert glue_module.glued() == {"twice": 2.0}
