"""Chapter 10's task: an image encoded as a short spike train, hidden at a random onset in a long noisy one.

Rate or latency coding of Fashion-MNIST images (``local``), or recorded N-MNIST / DVS-Gesture event
frames through ``tonic`` (``paper``), embedded in background noise as in the reference code: each
frame draws one random centre and scatters its noise events within two pixels of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


def downsample(images: np.ndarray, side: int) -> torch.Tensor:
    """uint8 images [n, H, W] -> float [n, side, side] in [0, 1] (area interpolation)."""
    x = torch.tensor(np.asarray(images), dtype=torch.float32)[:, None] / 255.0
    return nn.functional.interpolate(x, size=(side, side), mode="area")[:, 0]


def encode_rate(images: torch.Tensor, steps: int, max_rate: float, generator: torch.Generator) -> torch.Tensor:
    """Rate code [n, steps, 2, h, w]: ON spikes with probability max_rate*x, OFF where the object is dark."""
    on = images * max_rate
    off = (1 - images) * max_rate * (images > 0.05)  # dark pixels inside the object's silhouette
    probs = torch.stack([on, off], dim=1)[:, None].expand(-1, steps, -1, -1, -1)
    return torch.bernoulli(probs, generator=generator)


def encode_latency(images: torch.Tensor, steps: int) -> torch.Tensor:
    """Latency code [n, steps, 2, h, w]: one ON spike per bright pixel (brighter = earlier), one OFF per dark object pixel."""
    n, h, w = images.shape
    out = torch.zeros(n, steps, 2, h, w)
    inside = images > 0.05
    on_time = ((1 - images) * (steps - 1)).round().long()
    off_time = (images * (steps - 1)).round().long()
    for polarity, times, mask in ((0, on_time, images > 0.2), (1, off_time, inside & (images <= 0.2))):
        idx = mask.nonzero(as_tuple=True)
        out[idx[0], times[idx], polarity, idx[1], idx[2]] = 1.0
    return out


def noise_frames(n: int, length: int, side: int, events: int, generator: torch.Generator, patch: int = 4
                 ) -> torch.Tensor:
    """Background noise [n, length, 2, side, side]: ``events`` draws per frame (alternating polarity) in a patch.

    As in the reference (``patch=4``): each frame draws one random centre and scatters its events
    at offsets -patch/2 .. patch/2 - 1 from it; draws that land on the same pixel make one event.
    """
    out = torch.zeros(n, length, 2, side, side)
    if events == 0:
        return out
    half = patch // 2
    centre = torch.randint(half, max(half + 1, side - half), (n, length, 1, 2), generator=generator)
    offset = torch.randint(-half, patch - half, (n, length, events, 2), generator=generator)
    where = (centre + offset).clamp(0, side - 1)
    sample = torch.arange(n)[:, None, None].expand(n, length, events)
    frame = torch.arange(length)[None, :, None].expand(n, length, events)
    polarity = (torch.arange(events) % 2)[None, None, :].expand(n, length, events)
    out[sample, frame, polarity, where[..., 0], where[..., 1]] = 1.0
    return out


def embed(signal: torch.Tensor, seq_len: int, noise_events: int, generator: torch.Generator, noise_patch: int = 4
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Place each signal [n, S, 2, h, w] at a random onset inside noise of ``seq_len`` frames; (x, onsets)."""
    n, length, _, side, _ = signal.shape
    if length > seq_len:
        raise ValueError(f"signal_len={length} does not fit in seq_len={seq_len}")
    x = noise_frames(n, seq_len, side, noise_events, generator, noise_patch)
    onsets = torch.randint(0, seq_len - length + 1, (n,), generator=generator)
    frames = onsets[:, None] + torch.arange(length)
    x[torch.arange(n)[:, None], frames] = signal  # the signal overwrites the noise in its window
    return x, onsets


@dataclass(frozen=True)
class TaskConfig:
    """How a noisy spike-train task is built from images."""

    side: int = 14
    signal_len: int = 20
    seq_len: int = 100
    noise_events: int = 2
    noise_patch: int = 4
    encoding: str = "rate"
    max_rate: float = 0.5


def noisy_batch(images: torch.Tensor, task: TaskConfig, generator: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Flattened noisy spike trains [n, seq_len, 2*side*side] and onsets, from images [n, side, side] or
    from recorded event frames [n, signal_len, 2, side, side] (neuromorphic data)."""
    if images.ndim == 5:
        signal = images.float()
    elif task.encoding == "rate":
        signal = encode_rate(images, task.signal_len, task.max_rate, generator)
    elif task.encoding == "latency":
        signal = encode_latency(images, task.signal_len)
    else:
        raise ValueError(f"encoding={task.encoding!r} must be 'rate' or 'latency'")
    x, onsets = embed(signal, task.seq_len, task.noise_events, generator, task.noise_patch)
    return x.flatten(2), onsets


def neuromorphic_frames(name: str, split: str, signal_len: int, side: int, limit: int, root: str
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Event frames [n, signal_len, 2, side, side] (uint8) and labels of N-MNIST or DVS-Gesture, through ``tonic``.

    N-MNIST: the first ``signal_len`` ms in 1 ms bins, as the reference code reads it. DVS-Gesture:
    the recording cut into ``signal_len`` equal bins and downsampled to ``side``. Needs the network.
    """
    try:
        import tonic
    except ImportError:
        raise ImportError("the 'paper' profile reads N-MNIST / DVS-Gesture with `tonic`: pip install tonic") from None
    if name == "nmnist":
        sensor = tonic.datasets.NMNIST.sensor_size
        transform = tonic.transforms.Compose([tonic.transforms.Downsample(spatial_factor=side / sensor[0]),
                                              tonic.transforms.ToFrame(sensor_size=(side, side, 2), time_window=1000)])
        make = lambda: tonic.datasets.NMNIST(save_to=root, train=split == "train", transform=transform)
    elif name == "dvsgesture":
        sensor = tonic.datasets.DVSGesture.sensor_size
        transform = tonic.transforms.Compose([tonic.transforms.Downsample(spatial_factor=side / sensor[0]),
                                              tonic.transforms.ToFrame(sensor_size=(side, side, 2), n_time_bins=signal_len)])
        make = lambda: tonic.datasets.DVSGesture(save_to=root, train=split == "train", transform=transform)
    else:
        raise ValueError(f"dataset={name!r} must be 'nmnist' or 'dvsgesture' here")
    try:
        dataset = make()
    except Exception as error:  # tonic downloads on first use; offline this fails in several ways
        raise RuntimeError(f"{name} could not be loaded ({type(error).__name__}: {error}); it is downloaded from its "
                           "authors' servers, which this machine cannot reach. Use profile='local' "
                           "(Fashion-MNIST encoded as spikes) instead.") from error
    frames, labels = [], []
    for i in range(min(limit, len(dataset))):
        frame, label = dataset[i]
        clip = torch.zeros(signal_len, 2, side, side, dtype=torch.uint8)
        clip[: min(signal_len, len(frame))] = torch.as_tensor(frame[:signal_len] > 0, dtype=torch.uint8)
        frames.append(clip)
        labels.append(int(label))
    return torch.stack(frames), torch.tensor(labels)


def signal_mask(onsets: torch.Tensor, signal_len: int, steps: int) -> torch.Tensor:
    """Bool [N, steps]: True on the frames of each sequence's signal window."""
    t = torch.arange(steps)[None]
    return (t >= onsets[:, None]) & (t < onsets[:, None] + signal_len)
