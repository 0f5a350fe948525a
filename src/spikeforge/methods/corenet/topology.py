"""Core-structured network topologies shared by the probabilistic (Esser 2015) and binary-crossbar
(Jimeno Yepes & Tang 2016) methods.

A :class:`NetworkSpec` is a feed-forward stack of *core layers*. Every core of a layer has up to
``n_axons`` (256) input axons and uses ``neurons`` of its ``n_neurons`` (256) neurons. What each axon reads
is given by ``sources`` — a ``(cores, n_axons)`` integer array, ``-1`` for an unused axon:

* layer 0 (the input cores): the index of the image pixel (flattened, C order) the axon reads. One pixel
  may feed several cores (overlapping windows): the chip's input map delivers an input channel to many axons;
* layer l > 0: the index ``core * neurons + j`` of the previous layer's neuron that drives the axon.
  On TrueNorth a neuron has exactly **one** destination axon, so every neuron of layer l−1 appears at most
  once in layer l's ``sources`` (checked in :meth:`NetworkSpec.validate`).

The last layer is the output layer: its neuron ``j`` (of every core) votes for class ``j mod n_classes``
(round-robin), and the class score is the spike count of its neurons. Neurons are memoryless
(spike iff input + leak ≥ 0) and each layer is one tick (delay 1) behind the previous, so a copy of the network
is a layer-synchronous pipeline with latency ``len(layers) − 1`` and ``ticks_per_input = 1``.

Per-axon types and per-neuron type weights are fixed (not trained): every core's axons get a balanced random
assignment of types, and every neuron's ``n_axon_types`` weights are drawn by a :data:`SignScheme`:

* ``"perm2"`` — each neuron's 4 type weights are a random permutation of {−2, −1, 1, 2} (probe: best);
* ``"pm1"``   — 2 axon types used; each neuron's type weights are (+1, −1) or (−1, +1) at random.

The effective synaptic sign ``s_ij = s_j[G_i]`` is what both methods multiply their (probabilistic or binary)
connections with.

Two published-size networks are provided:

* :func:`small_network` — Esser et al. 2015's 5-core network: four input cores reading 16x16 windows of the
  28x28 image at offsets (0|12, 0|12), 64 neurons each, all 256 outputs into one output core of 250 neurons
  (25 per class).
* :func:`large_network` — our design of the ~30-core network (the paper gives 3840 neurons per copy; its
  layout is not published): 16 input cores reading 16x16 windows at offsets {0, 4, 8, 12}², 128 neurons each
  → 8 cores of 128 neurons → 4 output cores of 250 neurons (28 cores, 4072 neurons, 1000 class neurons).
  Routing is *interleaved*: downstream core k takes neuron j of every upstream core with
  ``j mod (#downstream cores) = k`` (16 x 16 = 256 axons into layer 2, 8 x 32 = 256 into the output layer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from spikeforge.hardware.spec import CoreSpec

SignScheme = Literal["perm2", "pm1"]


@dataclass(frozen=True)
class CoreLayer:
    """One layer of cores.

    Attributes:
        name: label (used for core labels in the deployment).
        sources: (cores, n_axons) int64; layer 0: pixel index, later layers: flat index of the previous
            layer's neuron; -1 = unused axon.
        neurons: neurons used per core (the first ``neurons`` of each core).
    """

    name: str
    sources: np.ndarray
    neurons: int

    @property
    def n_cores(self) -> int:
        return int(self.sources.shape[0])

    @property
    def n_outputs(self) -> int:
        return self.n_cores * self.neurons


@dataclass(frozen=True)
class NetworkSpec:
    """A feed-forward stack of core layers plus its fixed axon types and type weights.

    Attributes:
        name: ``"small"``, ``"large"`` or a user name.
        input_shape: image shape, e.g. (28, 28).
        n_classes: classes (output neuron j votes for class ``j mod n_classes``).
        layers: the core layers, input layer first, output layer last.
        signs: the sign scheme (see module docstring).
        sign_seed: seed of the axon-type and type-weight draws.
        n_axons, n_neurons, n_axon_types: the core shape (TrueNorth: 256, 256, 4).
        axon_types: per layer (cores, n_axons) int8 types in [0, n_axon_types) (derived).
        type_weights: per layer (cores, n_neurons, n_axon_types) int32 (derived; 0 for unused neurons).
    """

    name: str
    input_shape: tuple[int, ...]
    n_classes: int
    layers: tuple[CoreLayer, ...]
    signs: SignScheme = "perm2"
    sign_seed: int = 0
    n_axons: int = 256
    n_neurons: int = 256
    n_axon_types: int = 4
    axon_types: tuple[np.ndarray, ...] = field(default=(), repr=False)
    type_weights: tuple[np.ndarray, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        self.validate()  # before the signs are drawn for the layers' shapes
        if not self.axon_types:
            at, tw = _draw_signs(self)
            object.__setattr__(self, "axon_types", at)
            object.__setattr__(self, "type_weights", tw)

    # ---------------------------------------------------------------- derived quantities
    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def n_cores(self) -> int:
        """Cores of one copy."""
        return sum(layer.n_cores for layer in self.layers)

    @property
    def n_neurons_used(self) -> int:
        return sum(layer.n_outputs for layer in self.layers)

    @property
    def output_classes(self) -> np.ndarray:
        """(neurons of the output layer,) class of each output neuron, in flat ``core * neurons + j`` order."""
        out = self.layers[-1]
        j = np.tile(np.arange(out.neurons), out.n_cores)
        return (j % self.n_classes).astype(np.int64)

    @property
    def neurons_per_class(self) -> float:
        return self.layers[-1].n_outputs / self.n_classes

    def signs_for(self, layer: int) -> np.ndarray:
        """(cores, n_axons, neurons) float32 effective signs ``s_ij = s_j[G_i]``, zero on unused axons."""
        lay = self.layers[layer]
        at = self.axon_types[layer].astype(np.int64)  # (C, A)
        tw = self.type_weights[layer][:, : lay.neurons, :]  # (C, n, T)
        s = np.take_along_axis(tw[:, None, :, :], at[:, :, None, None].repeat(lay.neurons, 2), axis=3)[..., 0]
        s = np.where(lay.sources[:, :, None] >= 0, s, 0)
        return s.astype(np.float32)

    def input_sources(self, shift: tuple[int, int] = (0, 0)) -> np.ndarray:
        """(cores, n_axons) pixel indices read by the input layer when the image is translated by
        ``shift = (dy, dx)`` pixels (content moves down/right for positive values, zero fill).

        An axon that reads pixel (r, c) unshifted reads pixel (r − dy, c − dx) instead; where that lies
        outside the image the axon gets no input (-1), exactly as a zero pixel of the translated image.
        Used for *input-jitter ensembles*: copies of one network placed on distinct cores, each reading the
        image through its own translated input map (a per-copy deployment choice; no retraining).
        """
        src = self.layers[0].sources
        dy, dx = (int(v) for v in shift)
        if (dy, dx) == (0, 0):
            return src.copy()
        if len(self.input_shape) != 2:
            raise ValueError(f"input shifts need a 2-D input shape, not {self.input_shape}")
        h, w = self.input_shape
        r, c = np.divmod(np.where(src >= 0, src, 0), w)
        r2, c2 = r - dy, c - dx
        ok = (src >= 0) & (r2 >= 0) & (r2 < h) & (c2 >= 0) & (c2 < w)
        return np.where(ok, r2 * w + c2, -1).astype(np.int64)

    def validate(self) -> None:
        """Check fan-in (≤ n_axons), neurons per core, source ranges and the one-destination rule."""
        if not self.layers:
            raise ValueError("a network needs at least one layer")
        prev = self.n_inputs
        for li, lay in enumerate(self.layers):
            if lay.sources.ndim != 2 or lay.sources.shape[1] != self.n_axons:
                raise ValueError(f"layer {lay.name}: sources must be (cores, {self.n_axons})")
            if not 1 <= lay.neurons <= self.n_neurons:
                raise ValueError(f"layer {lay.name}: {lay.neurons} neurons per core not in 1..{self.n_neurons}")
            src = lay.sources[lay.sources >= 0]
            if src.size and src.max() >= prev:
                raise ValueError(f"layer {lay.name}: source {src.max()} out of range (previous size {prev})")
            if li > 0 and np.unique(src).size != src.size:
                raise ValueError(f"layer {lay.name}: a neuron of the previous layer feeds more than one axon "
                                 "(TrueNorth neurons have one destination)")
            prev = lay.n_outputs
        if self.layers[-1].neurons < self.n_classes:
            raise ValueError("output cores need at least one neuron per class")

    def describe(self) -> str:
        parts = [f"{lay.n_cores}x{lay.neurons}" for lay in self.layers]
        return f"{self.name}: {' -> '.join(parts)} ({self.n_cores} cores, {self.n_neurons_used} neurons, {self.signs})"


def _draw_signs(spec: NetworkSpec) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(spec.sign_seed)
    ats, tws = [], []
    for lay in spec.layers:
        c = lay.n_cores
        if spec.signs == "perm2":
            if spec.n_axon_types < 4:
                raise ValueError("sign scheme 'perm2' needs 4 axon types")
            base = np.arange(spec.n_axons) % 4
            at = np.stack([rng.permutation(base) for _ in range(c)])
            tw = np.zeros((c, spec.n_neurons, spec.n_axon_types), np.int32)
            vals = np.array([-2, -1, 1, 2])
            for k in range(c):
                tw[k, : lay.neurons, :4] = np.stack([rng.permutation(vals) for _ in range(lay.neurons)])
        elif spec.signs == "pm1":
            base = np.arange(spec.n_axons) % 2
            at = np.stack([rng.permutation(base) for _ in range(c)])
            tw = np.zeros((c, spec.n_neurons, spec.n_axon_types), np.int32)
            flip = rng.integers(0, 2, size=(c, lay.neurons)) * 2 - 1
            tw[:, : lay.neurons, 0] = flip
            tw[:, : lay.neurons, 1] = -flip
        else:
            raise ValueError(f"unknown sign scheme {spec.signs!r}; use 'perm2' or 'pm1'")
        ats.append(at.astype(np.int8))
        tws.append(tw)
    return tuple(ats), tuple(tws)


# ------------------------------------------------------------------------------- builders
def window_sources(input_shape: tuple[int, int], size: int, offsets: list[tuple[int, int]],
                   n_axons: int = 256) -> np.ndarray:
    """(len(offsets), n_axons) pixel indices of ``size x size`` windows at the given (row, col) offsets."""
    h, w = input_shape
    if size * size > n_axons:
        raise ValueError(f"a {size}x{size} window needs {size * size} axons > {n_axons}")
    out = np.full((len(offsets), n_axons), -1, np.int64)
    for k, (r, c) in enumerate(offsets):
        if r < 0 or c < 0 or r + size > h or c + size > w:
            raise ValueError(f"window at ({r}, {c}) of size {size} leaves the {h}x{w} image")
        rr, cc = np.meshgrid(np.arange(r, r + size), np.arange(c, c + size), indexing="ij")
        out[k, : size * size] = (rr * w + cc).reshape(-1)
    return out


def interleaved_sources(up_cores: int, up_neurons: int, down_cores: int, n_axons: int = 256) -> np.ndarray:
    """Downstream core k reads neuron j of every upstream core with ``j mod down_cores == k``."""
    out = np.full((down_cores, n_axons), -1, np.int64)
    for k in range(down_cores):
        src = [u * up_neurons + j for u in range(up_cores) for j in range(k, up_neurons, down_cores)]
        if len(src) > n_axons:
            raise ValueError(f"core {k} would need {len(src)} axons > {n_axons}")
        out[k, : len(src)] = src
    return out


def window_positions(extent: int, size: int, stride: int) -> list[int]:
    """Window starts 0, stride, ... along one axis of ``extent`` pixels; the last window ends at the edge."""
    if stride < 1 or size > extent:
        raise ValueError(f"windows of {size} pixels at stride {stride} do not fit an axis of {extent} pixels")
    pos = list(range(0, extent - size + 1, stride))
    if pos[-1] != extent - size:
        pos.append(extent - size)
    return pos


def grid_offsets(image: int | tuple[int, int], size: int, stride: int) -> list[tuple[int, int]]:
    """Window offsets 0, stride, ... up to image − size in each direction (row-major); ``image`` is the side
    of a square image or its ``(height, width)``."""
    h, w = (image, image) if isinstance(image, int) else image
    return [(r, c) for r in window_positions(h, size, stride) for c in window_positions(w, size, stride)]


def build_network(
    name: str,
    *,
    input_shape: tuple[int, int] = (28, 28),
    n_classes: int = 10,
    window: int = 16,
    stride: int = 12,
    input_neurons: int = 64,
    hidden: tuple[tuple[int, int], ...] = (),
    output_cores: int = 1,
    output_neurons: int = 250,
    signs: SignScheme = "perm2",
    sign_seed: int = 0,
    n_axons: int = 256,
    n_neurons: int = 256,
    n_axon_types: int = 4,
) -> NetworkSpec:
    """A windowed input layer, hidden core layers ``(cores, neurons)`` and an output layer, interleaved routing,
    on cores of ``n_axons`` x ``n_neurons`` with ``n_axon_types`` axon types (TrueNorth: 256, 256, 4)."""
    offsets = grid_offsets((int(input_shape[0]), int(input_shape[1])), window, stride)
    layers = [CoreLayer("input", window_sources(input_shape, window, offsets, n_axons), input_neurons)]
    up_c, up_n = len(offsets), input_neurons
    for i, (c, n) in enumerate(hidden):
        layers.append(CoreLayer(f"hidden{i + 1}", interleaved_sources(up_c, up_n, c, n_axons), n))
        up_c, up_n = c, n
    layers.append(CoreLayer("output", interleaved_sources(up_c, up_n, output_cores, n_axons), output_neurons))
    return NetworkSpec(name=name, input_shape=tuple(input_shape), n_classes=n_classes, layers=tuple(layers),
                       signs=signs, sign_seed=sign_seed, n_axons=n_axons, n_neurons=n_neurons,
                       n_axon_types=n_axon_types)


def small_network(signs: SignScheme = "perm2", sign_seed: int = 0) -> NetworkSpec:
    """Esser 2015's 5-core network: 4 x 64 windowed input neurons → one output core of 250 (25 per class)."""
    return build_network("small", window=16, stride=12, input_neurons=64, output_cores=1, output_neurons=250,
                         signs=signs, sign_seed=sign_seed)


def large_network(signs: SignScheme = "perm2", sign_seed: int = 0) -> NetworkSpec:
    """Our 28-core design: 16 x 128 (16x16 windows, stride 4) → 8 x 128 → 4 output cores x 250."""
    return build_network("large", window=16, stride=4, input_neurons=128, hidden=((8, 128),), output_cores=4,
                         output_neurons=250, signs=signs, sign_seed=sign_seed)


#: Translations used by input-jitter ensembles, in order: copy k reads the image through
#: ``JITTER_SHIFTS[k mod 9]`` — the identity first, then the four 1-pixel axis shifts, then the diagonals.
JITTER_SHIFTS: tuple[tuple[int, int], ...] = (
    (0, 0), (0, 1), (1, 0), (0, -1), (-1, 0), (1, 1), (-1, -1), (1, -1), (-1, 1),
)


def jitter_shifts(n: int) -> list[tuple[int, int]]:
    """The input shifts of an ``n``-copy input-jitter ensemble (cycling through :data:`JITTER_SHIFTS`)."""
    return [JITTER_SHIFTS[k % len(JITTER_SHIFTS)] for k in range(n)]


NETWORKS = {"small": small_network, "large": large_network}


def get_network(name: str, signs: SignScheme = "perm2", sign_seed: int = 0) -> NetworkSpec:
    """``"small"`` or ``"large"``."""
    try:
        return NETWORKS[name](signs=signs, sign_seed=sign_seed)
    except KeyError:
        raise KeyError(f"unknown network {name!r}; known: {sorted(NETWORKS)}") from None


#: Keys of a ``[network]`` table that describe a custom layout (see :func:`network_from_config`).
LAYOUT_KEYS: tuple[str, ...] = ("window", "stride", "input_neurons", "hidden", "output_cores", "output_neurons")

#: Every key a ``[network]`` table may hold.
NETWORK_KEYS: tuple[str, ...] = ("name", "signs", "sign_seed", *LAYOUT_KEYS)


def network_from_config(cfg: dict[str, Any], input_shape: tuple[int, ...] = (28, 28),
                        n_classes: int = 10, core: CoreSpec | None = None) -> NetworkSpec:
    """The network a recipe's ``[network]`` table describes, for cores shaped as ``core`` (default TrueNorth's
    256 x 256 with 4 axon types; a custom layout is built for the given core's shape, a preset keeps its
    256 x 256 layout and needs cores at least that large).

    * Only ``name`` (``"small"`` | ``"large"``), ``signs``, ``sign_seed``: the preset, which needs 28x28 inputs
      and 10 classes.
    * Any of :data:`LAYOUT_KEYS`: a custom layout built by :func:`build_network` for the dataset's image shape
      and class count — ``window`` (side of the square input windows, ``window² ≤ 256``), ``stride`` (window
      spacing; the last window is moved to the image edge), ``input_neurons`` per input core, ``hidden`` (a
      list of ``[cores, neurons]`` layers), ``output_cores`` and ``output_neurons`` (class neurons per output
      core, round-robin over the classes). Unset keys take the small network's values (16, 12, 64, none,
      1, 250). ``name`` labels it (default ``"custom"``) and must not be a preset's name.

    Raises ``ValueError`` naming the key for unknown keys, a preset name on a custom layout, a layout that
    does not fit the image or the cores (e.g. a downstream core that would need more than 256 axons), or a
    preset on an image shape or class count it was not built for.
    """
    unknown = sorted(set(cfg) - set(NETWORK_KEYS))
    if unknown:
        raise ValueError(f"[network]: unknown key(s) {unknown}; allowed: {list(NETWORK_KEYS)}")
    signs = cfg.get("signs", "perm2")
    sign_seed = int(cfg.get("sign_seed", 0))
    layout = {k: cfg[k] for k in LAYOUT_KEYS if k in cfg}
    if not layout:
        name = str(cfg.get("name", "small"))
        if name in NETWORKS and (tuple(input_shape) != (28, 28) or n_classes != 10):
            raise ValueError(f"[network] name {name!r}: the preset reads 28x28 images into 10 classes, this "
                             f"dataset has {tuple(input_shape)} images and {n_classes} classes; describe a layout "
                             f"for it with the keys {list(LAYOUT_KEYS)}")
        return get_network(name, signs=signs, sign_seed=sign_seed)
    name = str(cfg.get("name", "custom"))
    if name in NETWORKS:
        raise ValueError(f"[network] name {name!r} is a preset; a custom layout ({sorted(layout)}) needs another name")
    if len(input_shape) != 2:
        raise ValueError(f"[network]: windowed input cores need 2-D images, not shape {tuple(input_shape)}")
    try:
        hidden = tuple((int(c), int(n)) for c, n in layout.get("hidden", []))
    except (TypeError, ValueError):
        raise ValueError("[network] hidden must be a list of [cores, neurons] pairs, "
                         f"not {layout['hidden']!r}") from None
    ints = {}
    for key, default in (("window", 16), ("stride", 12), ("input_neurons", 64), ("output_cores", 1),
                         ("output_neurons", 250)):
        v = layout.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"[network] {key} must be a positive integer, not {v!r}")
        ints[key] = v
    if ints["window"] > min(input_shape):
        raise ValueError(f"[network] window {ints['window']} is larger than the "
                         f"{input_shape[0]}x{input_shape[1]} image")
    shape = {} if core is None else {"n_axons": core.n_axons, "n_neurons": core.n_neurons,
                                     "n_axon_types": core.n_axon_types}
    try:
        return build_network(name, input_shape=(int(input_shape[0]), int(input_shape[1])), n_classes=n_classes,
                             hidden=hidden, signs=signs, sign_seed=sign_seed, **ints, **shape)
    except ValueError as e:
        raise ValueError(f"[network] layout {name!r}: {e}") from None
