"""SkipSNN: the LIF neuron, the gates, the noisy task, the MAC counter and training."""

import math

import pytest
import torch

from support.skipsnn import network as N
from support.skipsnn import task as T


def test_lif_update_matches_a_hand_computed_sequence():
    model = N.SkipSNN(1, 1, 1, gate="always")
    mem, spikes, mems = torch.zeros(1, 1), [], []
    for current in (0.3, 0.3, 0.6, 0.1, 0.45):
        spike, mem = model._step(model.lif1, torch.tensor([[current]]), mem, torch.ones(1, 1))
        spikes.append(spike.item())
        mems.append(mem.item())
    # U_t = 0.1 U_{t-1} (1 - S_{t-1}) + I_t, S_t = [U_t > 0.5]: 0.3, 0.33, 0.633 (spike), reset -> 0.1, 0.46
    assert mems == pytest.approx([0.3, 0.33, 0.633, 0.1, 0.46])
    assert spikes == [0, 0, 1, 0, 0]


def test_freeze_membrane_leaves_sleeping_membranes_exactly_unchanged():
    model = N.SkipSNN(1, 3, 1, gate="always", variant="freeze_membrane")
    mem = torch.tensor([[0.2, 0.7, -0.1], [0.123456, 0.9, 0.4]])
    awake = torch.tensor([[1.0], [0.0]])
    spikes, new = model._step(model.lif1, torch.full((2, 3), 0.5), mem, awake)
    assert torch.equal(new[1], mem[1]) and torch.equal(spikes[1], torch.zeros(3))
    assert not torch.equal(new[0], mem[0])


def test_freeze_with_fixed_skipping_equals_the_awake_network_on_the_kept_frames():
    torch.manual_seed(0)
    frozen = N.SkipSNN(6, 5, 3, gate="fixed", variant="freeze_membrane", awake_fraction=0.5)
    awake_only = N.SkipSNN(6, 5, 3, gate="always")
    awake_only.load_state_dict(frozen.state_dict())
    x = (torch.rand(4, 10, 6) < 0.5).float() * 2
    with torch.no_grad():
        assert torch.allclose(frozen(x)["rate"], awake_only(x[:, ::2])["rate"])


def test_tick_inputs_fire_every_1st_2nd_10th_and_100th_step():
    ticks = N.tick_inputs(201)
    assert ticks.shape == (201, 4)
    assert ticks[:, 0].sum() == 201 and ticks[:, 1].sum() == 101 and ticks[:, 2].sum() == 21 and ticks[:, 3].sum() == 3
    assert ticks[0].tolist() == [1, 1, 1, 1] and ticks[5].tolist() == [1, 0, 0, 0] and ticks[10].tolist() == [1, 1, 1, 0]


@pytest.mark.parametrize("steps, fraction, expected", [(100, 0.1, 0.1), (100, 0.25, 0.25), (10, 0.3, 0.3),
                                                      (100, 0.323, 0.32), (7, 1.0, 1.0)])
def test_fixed_skipping_awake_fraction_is_exact(steps, fraction, expected):
    model = N.SkipSNN(2, 3, 2, gate="fixed", awake_fraction=fraction)
    out = model(torch.ones(3, steps, 2))
    assert out["awake"].mean().item() == pytest.approx(expected)
    assert N.fixed_schedule(steps, fraction).mean().item() == pytest.approx(expected)
    gaps = torch.diff(N.fixed_schedule(steps, fraction).nonzero().flatten())
    assert gaps.max() - gaps.min() <= 1  # evenly spread
    with pytest.raises(ValueError, match="fraction"):
        N.fixed_schedule(steps, 0.0)


def test_mac_counter_by_hand():
    model = N.SkipSNN(4, 3, 2, gate="controller")
    with torch.no_grad():
        model.fc1.weight.zero_()
        model.fc1.bias.fill_(1.0)  # every hidden neuron fires at every step
        model.ctrl.weight.zero_()
        model.ctrl.bias.fill_(-1.0)  # the controller never fires: only step 0 is awake
    x = torch.zeros(1, 5, 4)
    x[0, :, :2] = 1.0  # two non-zero inputs per frame
    out = model(x)
    assert out["awake"][0].tolist() == [1, 0, 0, 0, 0]
    assert out["macs_fc1"].item() == 2 * 3  # only step 0 reads its frame: 2 non-zero inputs x 3 outputs
    assert out["macs_fc2"].item() == 5 * 3 * 2  # mask_input: the bias keeps the hidden layer firing
    ticks = N.tick_inputs(5).sum().item()
    assert out["macs_gate"].item() == 5 * 3 + ticks  # the controller reads 3 hidden spikes + its ticks, every step
    frozen = N.SkipSNN(4, 3, 2, gate="controller", variant="freeze_membrane")
    frozen.load_state_dict(model.state_dict())
    assert frozen(x)["macs_fc2"].item() == 3 * 2  # asleep, nothing fires


def test_noise_has_the_requested_events_per_frame_inside_a_patch():
    noise = T.noise_frames(8, 30, 14, 2, torch.Generator().manual_seed(0))
    assert torch.equal(noise.sum(dim=(2, 3, 4)), torch.full((8, 30), 2.0))
    assert torch.equal(noise[:, :, 0].sum(dim=(2, 3)), torch.ones(8, 30))  # one event per polarity
    rows = noise.sum(dim=(2, 4)).nonzero()
    span = noise.sum(dim=2).nonzero()
    for n, t in {(int(a), int(b)) for a, b, _ in rows.tolist()}:
        where = span[(span[:, 0] == n) & (span[:, 1] == t)][:, 2:]
        assert (where.max(0).values - where.min(0).values).max() <= 3


def test_embed_places_the_signal_at_its_onset():
    signal = torch.ones(5, 4, 2, 6, 6)
    x, onsets = T.embed(signal, 20, 0, torch.Generator().manual_seed(1))
    for n in range(5):
        frames = x[n].sum(dim=(1, 2, 3)).nonzero().flatten().tolist()
        assert frames == list(range(onsets[n], onsets[n] + 4))
    with pytest.raises(ValueError, match="does not fit"):
        T.embed(torch.ones(1, 30, 2, 6, 6), 20, 0, torch.Generator())


@pytest.mark.parametrize("variant", N.VARIANTS)
def test_gathered_inference_equals_the_masked_forward(variant):
    torch.manual_seed(2)
    model = N.SkipSNN(2 * 36, 16, 10, gate="controller", variant=variant)
    with torch.no_grad():
        model.ctrl.bias.fill_(-0.2)  # a controller that sleeps part of the time
    x, _ = T.noisy_batch(torch.rand(12, 6, 6), T.TaskConfig(side=6, signal_len=5, seq_len=30), torch.Generator())
    with torch.no_grad():
        masked = model(x)
        assert 0 < masked["awake"].mean() < 1
        assert torch.allclose(N.infer_gathered(model, x)["rate"], masked["rate"], atol=1e-6)


def test_bad_gate_and_variant_are_refused():
    with pytest.raises(ValueError, match="gate"):
        N.SkipSNN(2, 2, 2, gate="sometimes")
    with pytest.raises(ValueError, match="variant"):
        N.SkipSNN(2, 2, 2, variant="pause")


@pytest.mark.slow
def test_training_on_smoke_data_beats_chance():
    from support import resources

    images, labels = resources.fashion_mnist("train")
    x, y = T.downsample(images[:768], 7), torch.as_tensor(labels[:768]).long()
    task = T.TaskConfig(side=7, signal_len=8, seq_len=16, noise_events=2)
    model = N.SkipSNN(2 * 49, 32, 10, gate="always")
    N.train(model, x[:512], y[:512], task, epochs=3, batch_size=32, lr=2e-3, progress=False)
    accuracy = N.evaluate(model, x[512:], y[512:], task)["accuracy"]
    assert accuracy > 0.3, f"accuracy {accuracy:.3f} is not clearly above chance (0.1)"
    assert not math.isnan(accuracy)


def test_gathered_inference_of_the_always_awake_network_equals_its_forward():
    torch.manual_seed(3)
    model = N.SkipSNN(2 * 36, 16, 10, gate="always")
    x, _ = T.noisy_batch(torch.rand(6, 6, 6), T.TaskConfig(side=6, signal_len=5, seq_len=20), torch.Generator())
    with torch.no_grad():
        assert torch.allclose(N.infer_gathered(model, x)["rate"], model(x)["rate"], atol=1e-6)
    with pytest.raises(ValueError, match="forward"):
        N.infer_gathered(N.SkipSNN(4, 2, 2, gate="fixed"), torch.zeros(1, 3, 4))


def test_neuromorphic_data_without_tonic_says_what_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tonic(name, *args, **kwargs):
        if name == "tonic":
            raise ImportError("No module named 'tonic'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tonic)
    with pytest.raises(ImportError, match="pip install tonic"):
        T.neuromorphic_frames("nmnist", "train", 50, 34, 10, "/nonexistent")


def test_latency_code_fires_each_bright_pixel_once_brighter_earlier():
    images = torch.tensor([[[1.0, 0.6], [0.1, 0.0]]])  # bright, bright, dark object pixel, background
    spikes = T.encode_latency(images, 11)
    assert spikes.shape == (1, 11, 2, 2, 2)
    on, off = spikes[0, :, 0], spikes[0, :, 1]
    assert on.sum(0).tolist() == [[1, 1], [0, 0]] and off.sum(0).tolist() == [[0, 0], [1, 0]]
    assert on[0, 0, 0] == 1 and on[4, 0, 1] == 1  # t = (1 - x) * 10: 0 and 4
    assert off[1, 1, 0] == 1  # dark pixel: t = x * 10 = 1
