"""Save and load deployments: one versioned, checksummed, atomically written file.

Format (``.sfd``, documented in ``docs/deployment-format.md``): a ZIP archive holding

* ``manifest.json`` — format name and version, chip preset (full parameters), scalar fields, provenance,
  and for every array its file name, dtype, shape, encoding and SHA-256 of the stored bytes;
* one ``.npy`` file per array (NumPy's own format). A binary crossbar is stored bit-packed
  (``np.packbits`` along the neuron axis, encoding ``"packbits"``), every other array as is.

Anything that reads ZIP, JSON and ``.npy`` can read a deployment: no spikeforge needed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from spikeforge import __version__
from spikeforge.deploy.deployment import (
    ARRAY_FIELDS,
    FORMAT_VERSION,
    READABLE_VERSIONS,
    V2_FIELDS,
    Deployment,
    DeploymentError,
)
from spikeforge.fileio import atomic_output
from spikeforge.hardware.rules import DesignRuleError, check
from spikeforge.hardware.spec import ChipSpec, preset_differences

FORMAT_NAME = "spikeforge-deployment"


class DeploymentSemanticsWarning(UserWarning):
    """A deployment file was written under different core semantics than this spikeforge simulates."""


class DeploymentFileError(DeploymentError):
    """A deployment file is missing, corrupt, truncated, of another format or of an unsupported version."""


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def _posing_message(name: str, fields: list[str]) -> str:
    return (f"its chip is named {name!r}, a preset's, but differs from that preset in {', '.join(fields)}: a chip "
            "of your own needs a name of its own (and base = the preset it derives from; see docs/chip-model.md)")


def save(deployment: Deployment, path: str | os.PathLike[str], *, check_rules: bool = True) -> Path:
    """Write ``deployment`` to ``path`` atomically (temporary file in the same folder, then rename).

    The deployment is validated first (and design-rule checked unless ``check_rules=False``), so an invalid
    network never reaches disk. Returns the path written.
    """
    deployment.validate()  # the caller's arrays, before the cast to the stored dtypes could hide a value
    dep = deployment.normalised()
    dep.validate()
    posing = preset_differences(dep.chip)
    if posing:
        raise DeploymentError(_posing_message(dep.chip.name, posing))
    if check_rules:
        check(dep)
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder: give the deployment file's path (e.g. {path / 'deployment.sfd'})")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {}
    payload: dict[str, bytes] = {}
    for name, dtype, _ in ARRAY_FIELDS:
        arr = getattr(dep, name)
        encoding = "raw"
        if name == "crossbar" and dep.chip.core.binary_crossbar:
            if arr.size and (arr.min() < 0 or arr.max() > 1):  # packed as bits even without the design rules
                raise DeploymentError(f"crossbar: values in [{int(arr.min())}, {int(arr.max())}] on a binary-crossbar "
                                      "chip, whose file stores one bit per synapse")
            arr = np.packbits(arr.astype(np.uint8), axis=-1)
            encoding = "packbits"
        data = _npy_bytes(arr)
        fname = f"{name}.npy"
        payload[fname] = data
        arrays[name] = {
            "file": fname,
            "dtype": dtype,
            "shape": list(getattr(dep, name).shape),
            "encoding": encoding,
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "spikeforge_version": __version__,
        "chip": dep.chip.to_dict(),
        "n_inputs": dep.n_inputs,
        "n_classes": dep.n_classes,
        "ticks_per_input": dep.ticks_per_input,
        "prng_seed": int(dep.prng_seed),
        "input_shape": list(dep.input_shape),
        "provenance": _strict_json(dep.provenance),
        "core_labels": dep.core_labels,
        "arrays": arrays,
    }
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=1, default=_json_default, allow_nan=False))
            for fname, data in payload.items():
                zf.writestr(fname, data)
        fh.flush()
        os.fsync(fh.fileno())  # the bytes are on disk before the rename makes them visible
    return path


def _strict_json(o: object) -> object:
    """``o`` with non-finite floats written as the strings "nan", "inf", "-inf" (JSON has no NaN: a bare NaN
    in the manifest would not be read by a strict JSON reader)."""
    if isinstance(o, dict):
        return {k: _strict_json(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_strict_json(v) for v in o]
    if isinstance(o, (float, np.floating)) and not np.isfinite(o):
        return str(float(o))
    if isinstance(o, np.ndarray) and o.dtype.kind == "f" and not np.isfinite(o).all():
        return _strict_json(o.tolist())
    return o


def _json_default(o: object) -> object:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"provenance value of type {type(o).__name__} is not JSON-serialisable")


def load(path: str | os.PathLike[str], *, check_rules: bool = True) -> Deployment:
    """Read a deployment written by :func:`save`, verifying format, version, checksums, shapes, dtypes and
    (unless ``check_rules=False``) the chip's design rules. Raises :class:`DeploymentFileError` naming the
    file and the problem for anything corrupt or truncated."""
    path = Path(path)
    if not path.exists():
        raise DeploymentFileError(f"{path}: no such deployment file")
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise DeploymentFileError(f"{path}: member {bad!r} is corrupt (its header or its CRC check fails)")
            try:
                manifest = json.loads(zf.read("manifest.json"))
            except KeyError:
                raise DeploymentFileError(f"{path}: no manifest.json — not a spikeforge deployment") from None
            if manifest.get("format") != FORMAT_NAME:
                raise DeploymentFileError(f"{path}: format {manifest.get('format')!r} is not {FORMAT_NAME!r}")
            version = manifest.get("format_version")
            if version not in READABLE_VERSIONS:
                raise DeploymentFileError(
                    f"{path}: format version {version!r} is not supported (this spikeforge reads "
                    f"{', '.join(map(str, READABLE_VERSIONS))})"
                )
            chip = ChipSpec.from_dict(manifest["chip"])
            posing = preset_differences(chip)
            if posing:
                raise DeploymentFileError(f"{path}: {_posing_message(chip.name, posing)}")
            kw: dict[str, Any] = {}
            for name, dtype, _ in ARRAY_FIELDS:
                meta = manifest["arrays"].get(name)
                if meta is None and version == 1 and name in V2_FIELDS:
                    continue  # written before the field existed: off (Deployment fills it in)
                if meta is None:
                    raise DeploymentFileError(f"{path}: array {name!r} missing from manifest")
                if not isinstance(meta, dict):
                    raise DeploymentFileError(f"{path}: manifest entry of array {name!r} is not a table")
                if meta.get("dtype") != dtype:
                    raise DeploymentFileError(f"{path}: manifest gives array {name!r} dtype {meta.get('dtype')!r}; "
                                              f"this field is {dtype}")
                try:
                    data = zf.read(meta["file"])
                except KeyError:
                    raise DeploymentFileError(f"{path}: array file {meta['file']!r} missing") from None
                if hashlib.sha256(data).hexdigest() != meta["sha256"]:
                    raise DeploymentFileError(f"{path}: array {name!r} fails its SHA-256 check (corrupt)")
                arr = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
                if meta["encoding"] == "packbits":
                    n = meta["shape"][-1]
                    arr = np.unpackbits(arr, axis=-1, count=n)
                elif meta["encoding"] != "raw":
                    raise DeploymentFileError(f"{path}: array {name!r} has unknown encoding {meta['encoding']!r}")
                elif arr.dtype != np.dtype(dtype):
                    raise DeploymentFileError(f"{path}: array {name!r} is stored as {arr.dtype}, expected {dtype}")
                if list(arr.shape) != list(meta["shape"]):
                    raise DeploymentFileError(
                        f"{path}: array {name!r} has shape {arr.shape}, manifest says {tuple(meta['shape'])}"
                    )
                kw[name] = arr.astype(dtype, copy=False)
        scalars = {k: manifest[k] for k in ("n_inputs", "n_classes", "ticks_per_input")}
        scalars["prng_seed"] = manifest.get("prng_seed", 0)
        shape, labels = manifest.get("input_shape", []), manifest.get("core_labels", [])
        for k, v in scalars.items():
            if isinstance(v, bool) or not isinstance(v, int):
                raise DeploymentFileError(f"{path}: manifest {k!r} is {v!r}, not an integer")
        if not isinstance(shape, list) or not all(isinstance(k, int) and not isinstance(k, bool) for k in shape):
            raise DeploymentFileError(f"{path}: manifest 'input_shape' is {shape!r}, not a list of integers")
        if not isinstance(labels, list) or not all(isinstance(k, str) for k in labels):
            raise DeploymentFileError(f"{path}: manifest 'core_labels' is not a list of strings")
        dep = Deployment(
            chip=chip,
            **scalars,
            input_shape=tuple(shape),
            provenance=dict(manifest.get("provenance", {})),
            core_labels=list(labels),
            **kw,
        )
    except DeploymentError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError) as e:
        # a flipped or missing byte surfaces as any of these from zipfile / zlib
        raise DeploymentFileError(f"{path}: not a readable deployment archive (truncated or corrupt): {e}") from None
    except KeyError as e:
        raise DeploymentFileError(f"{path}: malformed manifest: missing key {e.args[0]!r}" if e.args else
                                  f"{path}: malformed manifest") from None
    except (TypeError, ValueError, AttributeError) as e:
        raise DeploymentFileError(f"{path}: malformed manifest or array ({type(e).__name__}: {e})") from None
    try:
        dep.validate()
    except DeploymentError as e:
        raise DeploymentFileError(f"{path}: {e}") from None
    if version == 1:
        changed = int(np.count_nonzero(dep.enabled.astype(bool) & (dep.floor_mode == 0) & (dep.reset_mode != 0)))
        if changed:
            warnings.warn(
                f"{path}: format version 1 file with {changed} neuron(s) that reset below the negative threshold "
                "(κ = 0) in reset mode γ = 1 or 2; since format version 2 they follow TrueNorth's table (Cassidy "
                "et al. 2013): V ← V + β (γ = 1) or V unchanged (γ = 2), where version 1 set V ← −R",
                DeploymentSemanticsWarning, stacklevel=2,
            )
    if check_rules:
        try:
            check(dep)
        except DesignRuleError as e:
            raise DesignRuleError(e.violations, dep.chip.name, source=str(path)) from None
    return dep
