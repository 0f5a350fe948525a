"""Spike encoders: turn a batch of images into binary spike trains.

Every encoder returns a C-contiguous ``uint8`` array of 0/1 of shape ``(batch, ticks, channels)``,
where ``channels`` is the number of pixels of one sample (all axes after the first, flattened in C
order) — times ``levels`` for the thermometer code, whose channels are level-major
(``channel = level · pixels + pixel``, so a 28x28 image becomes a ``(levels, 28, 28)`` stack).
Inputs are intensities: ``uint8`` (divided by 255) or floats in ``[0, 1]``; ``bool`` is taken
as 0/1. The first axis is always the batch: a single image must be passed as ``x[None]``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from spikeforge.data.source import SpikeSource
from spikeforge.recipes.schema import bounds

if TYPE_CHECKING:
    from spikeforge.deploy.deployment import Deployment

__all__ = ["AxonDraws", "Encoder", "EncoderKind", "axon_draws", "bernoulli_encode", "copy_draws",
           "encode_for_deployment", "inputs_for_deployment",
           "private_draws", "regular_encode", "thermometer_encode", "threshold_encode"]

EncoderKind = Literal["threshold", "bernoulli", "thermometer", "regular"]

#: Elements (batch rows x ticks x channels) drawn per chunk by :func:`bernoulli_encode`.
_CHUNK_ELEMENTS = 2**22
_UINT8_LEVELS = np.arange(256, dtype=np.float64) / 255.0


def _check_ticks(ticks: object) -> int:
    """Return ``ticks`` as an int, or raise ValueError unless it is an integer >= 1."""
    if isinstance(ticks, bool) or not isinstance(ticks, numbers.Integral) or int(ticks) < 1:
        raise ValueError(f"ticks must be an integer >= 1, got {ticks!r}")
    return int(ticks)


def _check_threshold(threshold: object) -> float:
    """Return ``threshold`` as a float, or raise ValueError unless it is a real number in [0, 1]."""
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise ValueError(f"threshold must be a real number in [0, 1], got {threshold!r}")
    t = float(threshold)
    if not (math.isfinite(t) and 0.0 <= t <= 1.0):
        raise ValueError(f"threshold must be in [0, 1], got {t}")
    return t


def _as_batch(x: object) -> np.ndarray:
    """Validate ``x`` and return it as a 2-D ``(batch, channels)`` array, dtype uint8 or floating.

    Raises
    ------
    ValueError
        If ``x`` has fewer than 2 or more than 4 dimensions, an unsupported dtype, NaN or infinite
        values, or float values outside ``[0, 1]``.
    """
    a = np.asarray(x)
    if not 2 <= a.ndim <= 4:
        raise ValueError(
            "expected a batch of shape (batch, channels), (batch, H, W) or (batch, C, H, W); "
            f"got ndim={a.ndim} "
            f"shape {a.shape} (for a single image pass x[None])"
        )
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * np.uint8(255)
    elif a.dtype == np.uint8:
        pass
    elif np.issubdtype(a.dtype, np.floating):
        n_nan = int(np.count_nonzero(np.isnan(a)))
        if n_nan:
            raise ValueError(f"input contains {n_nan} NaN value(s)")
        n_inf = int(np.count_nonzero(np.isinf(a)))
        if n_inf:
            raise ValueError(f"input contains {n_inf} infinite value(s)")
        if a.size and (a.min() < 0.0 or a.max() > 1.0):
            raise ValueError(
                f"input values must be in [0, 1], got min={a.min():.6g} max={a.max():.6g} "
                "(pass uint8 images as they are, or divide by 255)"
            )
    else:
        raise ValueError(f"input dtype must be uint8, bool or floating in [0, 1], got {a.dtype}")
    return a.reshape(a.shape[0], int(np.prod(a.shape[1:])))  # (an empty batch too: -1 cannot size it)


def threshold_encode(x: np.ndarray, ticks: int = 1, threshold: float = 0.5) -> np.ndarray:
    """Encode intensities as a deterministic spike on every tick where ``intensity > threshold``.

    Parameters
    ----------
    x
        Batch of intensities, shape ``(batch, ...)``: ``uint8`` (intensity = value / 255) or floats
        in ``[0, 1]``.
    ticks
        Number of time steps; the same spike pattern is repeated on each.
    threshold
        Intensity in ``[0, 1]``; a channel spikes iff its intensity is strictly greater.

    Returns
    -------
    numpy.ndarray
        ``uint8`` 0/1 array of shape ``(batch, ticks, channels)``.

    Raises
    ------
    ValueError
        On invalid input (see module docstring), ``ticks < 1`` or ``threshold`` outside ``[0, 1]``.
    """
    ticks = _check_ticks(ticks)
    threshold = _check_threshold(threshold)
    flat = _as_batch(x)
    if flat.dtype == np.uint8:
        spikes = (_UINT8_LEVELS > threshold).astype(np.uint8)[flat]
    else:
        spikes = (flat > threshold).astype(np.uint8)
    return np.ascontiguousarray(np.broadcast_to(spikes[:, None, :], (flat.shape[0], ticks, flat.shape[1])))


def regular_encode(x: np.ndarray, ticks: int) -> np.ndarray:
    """Deterministic rate code: intensity p ∈ [0, 1] spikes ⌊T·p + ½⌋ times over T = ``ticks`` ticks, evenly
    spaced — tick t spikes iff ⌊(t+1)·p + ½⌋ > ⌊t·p + ½⌋.

    The input code of the layer-wise conversion (docs/methods/layerwise.md): the count over T ticks is the
    intensity rounded to the nearest multiple of 1/T, with none of a Bernoulli code's sampling noise.

    Parameters
    ----------
    x
        Batch of intensities, shape ``(batch, ...)``: ``uint8`` (intensity = value / 255) or floats in
        ``[0, 1]``.
    ticks
        Number of time steps T.

    Returns
    -------
    numpy.ndarray
        ``uint8`` 0/1 array of shape ``(batch, ticks, channels)``.

    Raises
    ------
    ValueError
        On invalid input (see module docstring) or ``ticks < 1``.
    """
    ticks = _check_ticks(ticks)
    flat = _as_batch(x)
    p = flat.astype(np.float64)
    if flat.dtype == np.uint8:
        p = p / 255.0
    t = np.arange(ticks + 1, dtype=np.float64)[None, :, None]
    cum = np.floor(t * p[:, None, :] + 0.5)
    return np.ascontiguousarray(np.diff(cum, axis=1) > 0).astype(np.uint8)


def thermometer_levels(levels: int) -> np.ndarray:
    """The ``levels`` thresholds of :func:`thermometer_encode`: θ_k = k / (levels + 1), k = 1 … levels."""
    if isinstance(levels, bool) or not isinstance(levels, numbers.Integral) or not 1 <= int(levels) <= 255:
        raise ValueError(f"levels must be an integer in [1, 255], got {levels!r}")
    return np.arange(1, int(levels) + 1, dtype=np.float64) / (int(levels) + 1)


def thermometer_encode(x: np.ndarray, ticks: int = 1, levels: int = 3) -> np.ndarray:
    """Encode each intensity as ``levels`` binary channels, a thermometer code: channel k spikes iff
    ``intensity > θ_k`` with θ_k = k / (levels + 1) (so ``levels = 1`` is :func:`threshold_encode` at 0.5).

    The code is monotone (channel k+1 spiking implies channel k spikes) and loses less of a grey-level
    image than one threshold — the "transduction" of graded inputs into several binary spike channels used
    by convolutional TrueNorth networks (Esser et al. 2016). Output channels are level-major: channel
    ``k · pixels + p`` is level k of pixel p, and the pattern is repeated on every tick.

    Returns
    -------
    numpy.ndarray
        ``uint8`` 0/1 array of shape ``(batch, ticks, levels · pixels)``.

    Raises
    ------
    ValueError
        On invalid input (see module docstring), ``ticks < 1`` or ``levels`` outside [1, 255].
    """
    ticks = _check_ticks(ticks)
    thetas = thermometer_levels(levels)
    flat = _as_batch(x)
    vals = _UINT8_LEVELS[flat] if flat.dtype == np.uint8 else flat.astype(np.float64)
    spikes = (vals[:, None, :] > thetas[None, :, None]).astype(np.uint8).reshape(flat.shape[0], -1)
    return np.ascontiguousarray(np.broadcast_to(spikes[:, None, :], (flat.shape[0], ticks, spikes.shape[1])))


def bernoulli_encode(x: np.ndarray, ticks: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Encode intensities as a rate code: independent spikes with ``P(spike) = intensity``.

    Each (sample, tick, channel) spikes independently with probability equal to the channel's
    intensity, so the mean over ticks estimates the intensity; intensity 0 never spikes and 1 always.

    Parameters
    ----------
    x
        Batch of intensities, shape ``(batch, ...)``: ``uint8`` (intensity = value / 255) or floats
        in ``[0, 1]``.
    ticks
        Number of time steps, >= 1.
    rng
        A ``numpy.random.Generator`` (advanced in place), an integer seed, or ``None`` for fresh OS
        entropy. The same seed, input shape and ``ticks`` give the same spikes.

    Returns
    -------
    numpy.ndarray
        ``uint8`` 0/1 array of shape ``(batch, ticks, channels)``.

    Raises
    ------
    ValueError
        On invalid input (see module docstring) or ``ticks < 1``.
    """
    ticks = _check_ticks(ticks)
    flat = _as_batch(x)
    if isinstance(rng, (bool, np.bool_)):
        raise ValueError(f"rng must be a numpy Generator, an integer seed or None, got {rng!r}")
    gen = np.random.default_rng(rng)
    batch, channels = flat.shape
    out = np.empty((batch, ticks, channels), dtype=np.bool_)
    levels = _UINT8_LEVELS.astype(np.float32)
    rows = max(1, _CHUNK_ELEMENTS // max(1, ticks * channels))
    for start in range(0, batch, rows):
        chunk = flat[start : start + rows]
        p = levels[chunk] if chunk.dtype == np.uint8 else chunk.astype(np.float32)
        u = gen.random((chunk.shape[0], ticks, channels), dtype=np.float32)
        np.less(u, p[:, None, :], out=out[start : start + rows])
    return out.view(np.uint8)


@dataclass(frozen=True)
class Encoder:
    """Configuration of a spike encoder, as named in a recipe (e.g. a TOML ``[encoding]`` table).

    Attributes
    ----------
    kind
        ``"threshold"`` (:func:`threshold_encode`), ``"bernoulli"`` (:func:`bernoulli_encode`),
        ``"thermometer"`` (:func:`thermometer_encode`) or ``"regular"`` (:func:`regular_encode`).
    ticks
        Number of time steps, >= 1.
    threshold
        Intensity threshold in ``[0, 1]``; used by ``"threshold"`` only.
    seed
        Seed of ``"bernoulli"``; ``None`` draws fresh OS entropy on each call.
    levels
        Number of thresholds of ``"thermometer"`` (binary channels per pixel); ignored by the others.

    Raises
    ------
    ValueError
        On construction, if a field is invalid.
    """

    kind: EncoderKind = "threshold"
    ticks: int = field(default=1, metadata=bounds(ge=1))
    threshold: float = field(default=0.5, metadata=bounds(ge=0, le=1))
    seed: int | None = 0
    levels: int = field(default=1, metadata=bounds(ge=1))

    def __post_init__(self) -> None:
        """Validate the fields (see class docstring)."""
        if self.kind not in get_args(EncoderKind):
            raise ValueError(f"encoder kind must be one of {get_args(EncoderKind)}, got {self.kind!r}")
        _check_ticks(self.ticks)
        _check_threshold(self.threshold)
        thermometer_levels(self.levels)
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral)
        ):
            raise ValueError(f"encoder seed must be an integer or None, got {self.seed!r}")
        if self.seed is not None and self.seed < 0:
            raise ValueError(f"encoder seed (--seed) must be >= 0, got {self.seed}")

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> Encoder:
        """Build an encoder from a mapping such as a parsed TOML table, rejecting unknown keys."""
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - allowed)
        if unknown:
            raise ValueError(f"unknown encoder setting(s) {unknown}; allowed: {sorted(allowed)}")
        return cls(**dict(config))

    @property
    def channels_per_pixel(self) -> int:
        """Binary channels per input intensity: ``levels`` for the thermometer code, else 1."""
        return int(self.levels) if self.kind == "thermometer" else 1

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as a plain dict (inverse of :meth:`from_dict`)."""
        return asdict(self)

    def encode(self, x: np.ndarray, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """Encode a batch with this configuration.

        Parameters
        ----------
        x
            Batch of intensities, as for :func:`threshold_encode`.
        rng
            ``"bernoulli"`` only: overrides ``seed``. With the default (``seed`` set, ``rng=None``)
            every call on the same input returns the same spikes; pass a shared ``Generator`` to get
            fresh noise on each call (e.g. each training epoch).

        Returns
        -------
        numpy.ndarray
            ``uint8`` 0/1 array of shape ``(batch, ticks, channels)``.
        """
        if self.kind == "threshold":
            return threshold_encode(x, self.ticks, self.threshold)
        if self.kind == "thermometer":
            return thermometer_encode(x, self.ticks, self.levels)
        if self.kind == "regular":
            return regular_encode(x, self.ticks)
        return bernoulli_encode(x, self.ticks, self.seed if rng is None else rng)


def private_draws(x: np.ndarray, keys: list[tuple[int, ...]], seed: int = 0) -> np.ndarray:
    """One independent one-tick Bernoulli draw of the images per key, side by side: (B, 1, len(keys) · K) uint8.

    Block ``i`` is ``Bernoulli(x)`` drawn with ``numpy.random.default_rng([seed, *keys[i]])``, so a copy's
    draw depends only on its key (e.g. ``(member, shift)``), never on which other copies are drawn with it.
    Feeds an ensemble deployment whose copies read their own input channels (*per-copy draws*).
    x: (B, ...) intensities (``uint8`` / 255 or floats in [0, 1])."""
    a = _as_batch(x)
    xf = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a
    if not keys:
        raise ValueError("private_draws needs at least one key")
    out = np.empty((len(xf), 1, len(keys) * xf.shape[1]), np.uint8)
    k = xf.shape[1]
    for i, key in enumerate(keys):
        rng = np.random.default_rng([int(seed), *(int(v) for v in key)])
        out[:, 0, i * k : (i + 1) * k] = rng.random(xf.shape, dtype=np.float32) < xf
    return out


def copy_draws(x: np.ndarray, n_inputs: int, seed: int = 0) -> np.ndarray:
    """Per-copy draws for a deployment of ``n_inputs`` input channels that holds ``n_inputs / K`` copies each
    reading its own draw of the K-pixel images: copy ``c`` gets key ``(c, 0)`` of :func:`private_draws` (the
    convention of the core-network recipes, encoding ``"bernoulli-draws"``)."""
    k = int(np.prod(np.shape(x)[1:]))
    if k == 0 or n_inputs % k:
        raise ValueError(f"per-copy draws of {k}-pixel images give multiples of {k} channels, not {n_inputs}")
    return private_draws(x, [(c, 0) for c in range(n_inputs // k)], seed)


class AxonDraws(SpikeSource):
    """Per-axon Bernoulli draws (:func:`axon_draws`) made on demand: a :class:`~spikeforge.data.source.SpikeSource`
    of shape (B, 1, len(source)) that keeps the images and draws a block of inputs when it is read.

    Block ``b``'s generator draws the images in order, so reading inputs ``[0, 100)`` then ``[100, 200)``
    gives exactly the spikes of one ``[0, 200)`` read (numpy's generators fill arrays in order). A read that
    does not start where the previous one stopped restarts the generators and skips to its start (drawing
    and discarding), so any read gives the same spikes, in-order reads cost nothing extra, and memory
    follows the block read, not the data set. Not thread-safe (the generators hold the position).
    """

    def __init__(self, x: np.ndarray, source: np.ndarray, seed: int = 0,
                 keys: list[tuple[int, ...]] | None = None) -> None:
        a = _as_batch(x)
        self._x = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32, copy=False)
        src = np.asarray(source)
        if src.ndim != 1 or src.dtype.kind not in "iu" or (src.size and src.min() < 0):
            raise ValueError("axon_draws: source must be a 1-D array of non-negative channel indices")
        p = self._x.shape[1]
        block, self._pixel = src // p, src % p
        n_blocks = int(block.max()) + 1 if src.size else 0
        if keys is not None and len(keys) < n_blocks:
            raise ValueError(f"axon_draws: {len(keys)} keys for {n_blocks} blocks of {p} channels")
        self._seed = int(seed)
        self._blocks = [(e, keys[b] if keys is not None else (b,))
                        for b in range(n_blocks) if len(e := np.flatnonzero(block == b))]
        self._shape = (len(self._x), 1, len(src))
        self._restart()

    @property
    def shape(self) -> tuple[int, int, int]:
        return self._shape

    def _restart(self) -> None:
        self._rngs = [np.random.default_rng([self._seed, *(int(v) for v in key), 1]) for _, key in self._blocks]
        self._next = 0

    def read(self, start: int, stop: int) -> np.ndarray:
        n = len(self._x)
        if not 0 <= start <= stop <= n:
            raise IndexError(f"AxonDraws.read({start}, {stop}) outside the {n} inputs")
        if start != self._next:
            if start < self._next:
                self._restart()
            while self._next < start:  # skip, a bounded block at a time
                self._draw(self._next, min(start, self._next + 1024))
        return self._draw(start, stop)

    def _draw(self, start: int, stop: int) -> np.ndarray:
        out = np.zeros((stop - start, 1, self._shape[2]), np.uint8)
        xs = self._x[start:stop]
        for (e, _), rng in zip(self._blocks, self._rngs, strict=True):
            out[:, 0, e] = rng.random((stop - start, len(e)), dtype=np.float32) < xs[:, self._pixel[e]]
        self._next = stop
        return out


def axon_draws(x: np.ndarray, source: np.ndarray, seed: int = 0,
               keys: list[tuple[int, ...]] | None = None) -> np.ndarray:
    """One independent one-tick Bernoulli draw per *axon*: (B, 1, len(source)) uint8.

    ``source[k]`` is the channel that input-map entry ``k`` reads (:meth:`Deployment.per_axon_inputs`); the
    channels are the images' ``P`` pixels, block after block (``channel = block · P + pixel``: one block per
    copy for per-copy inputs, a single block otherwise). Entry ``k`` spikes with probability
    ``x[source[k] mod P]``, independently of every other entry, so two axons that read the same pixel (two
    overlapping windows, two input cores) see two independent draws. The draws of block ``b`` come from
    ``numpy.random.default_rng([seed, *key_b, 1])`` with ``key_b = keys[b]`` (default ``(b,)``), so a copy's
    draws depend only on its key. Per pixel each entry is an exact Bernoulli draw, as with per-copy draws
    (:func:`private_draws`); the expected input spikes, and so the energy, are the same.
    x: (B, ...) intensities (``uint8`` / 255 or floats in [0, 1]). :class:`AxonDraws` gives the same spikes
    a block at a time."""
    draws = AxonDraws(x, source, seed, keys)
    return draws.read(0, len(draws))


def inputs_for_deployment(x: np.ndarray, encoding: Mapping[str, Any], dep: Deployment,
                          default_seed: int = 0) -> tuple[Deployment, np.ndarray | AxonDraws]:
    """``(deployment to simulate, spikes)`` for ``dep`` under an encoding table (see
    :func:`encode_for_deployment`). Kind ``"axon-draws"`` (one tick) gives every input axon its own
    Bernoulli draw, seed ``encoding["seed"]`` else ``default_seed``: the spikes are an :class:`AxonDraws`
    source (drawn a block at a time as the simulator reads them; ``numpy.asarray`` draws them all, as
    :func:`axon_draws`) and feed :meth:`Deployment.per_axon_inputs` of ``dep``, the same cores addressed one
    axon at a time. Any other kind: ``dep`` itself and the array of :func:`encode_for_deployment`."""
    enc = dict(encoding)
    if enc.get("kind") != "axon-draws":
        return dep, encode_for_deployment(x, enc, dep.n_inputs, default_seed)
    unknown = sorted(set(enc) - {"kind", "seed", "ticks"})
    if unknown:
        raise ValueError(f"encoding 'axon-draws': unknown setting(s) {unknown}; allowed: ['kind', 'seed', 'ticks']")
    if int(enc.get("ticks", 1)) != 1:
        raise ValueError(f"encoding 'axon-draws' is one tick per image, not ticks={enc['ticks']}")
    k = int(np.prod(np.shape(x)[1:]))
    if k == 0 or dep.n_inputs % k:
        raise ValueError(f"axon draws of {k}-pixel images need a multiple of {k} input channels; the deployment "
                         f"has {dep.n_inputs}")
    seed = enc.get("seed")
    expanded, source = dep.per_axon_inputs()
    return expanded, AxonDraws(x, source, int(default_seed if seed is None else seed))


def encode_for_deployment(x: np.ndarray, encoding: Mapping[str, Any], n_inputs: int,
                          default_seed: int = 0) -> np.ndarray:
    """Spikes for a deployment with ``n_inputs`` input channels from an encoding table (a recipe's
    ``[encoding]`` or a deployment's recorded ``provenance["encoding"]``): kind ``"bernoulli-draws"`` gives
    every copy its own draw (:func:`copy_draws`, seed ``encoding["seed"]`` else ``default_seed``; one tick;
    ``threshold`` and ``levels`` do not apply and are ignored); any other table is an :class:`Encoder` (an
    empty one the default encoder). Kind ``"axon-draws"`` needs the deployment: :func:`inputs_for_deployment`."""
    enc = dict(encoding)
    if enc.get("kind") == "axon-draws":
        raise ValueError("encoding 'axon-draws' feeds the deployment one axon at a time: use "
                         "inputs_for_deployment(x, encoding, deployment)")
    if enc.get("kind") == "bernoulli-draws":
        allowed = sorted(f.name for f in fields(Encoder))
        unknown = sorted(set(enc) - set(allowed))
        if unknown:
            raise ValueError(f"unknown encoder setting(s) {unknown}; allowed: {allowed}")
        if int(enc.get("ticks", 1)) != 1:
            raise ValueError(f"encoding 'bernoulli-draws' is one tick per image, not ticks={enc['ticks']}")
        seed = enc.get("seed")
        return copy_draws(x, n_inputs, int(default_seed if seed is None else seed))
    return (Encoder.from_dict(enc) if enc else Encoder()).encode(x)

