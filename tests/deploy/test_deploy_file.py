"""The .sfd deployment file: exact round trip, rejection of damaged or foreign files with an error naming the
file and the problem, atomic writes, and readability with zipfile + json + numpy alone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings

from helpers import random_chip, random_deployment, seeds
from spikeforge.deploy import ARRAY_FIELDS, FORMAT_VERSION, Deployment, DeploymentError, DeploymentFileError, load, save
from spikeforge.hardware import LOIHI_LIKE, TRUENORTH, DesignRuleError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "deployment-format.md"


def assert_same(a: Deployment, b: Deployment) -> None:
    assert a.chip == b.chip
    for name, dtype, _ in ARRAY_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        assert y.dtype == np.dtype(dtype), name
        np.testing.assert_array_equal(x, y, err_msg=name)
    for name in ("n_inputs", "n_classes", "ticks_per_input", "input_shape", "provenance", "core_labels",
                 "prng_seed"):
        assert getattr(a, name) == getattr(b, name), name


def sample(seed: int = 0, chip: object = None) -> Deployment:
    return random_deployment(np.random.default_rng(seed), chip)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- round trip
@settings(max_examples=40, deadline=None)
@given(seed=seeds)
def test_round_trip_is_exact(seed: int) -> None:
    rng = np.random.default_rng(seed)
    d = random_deployment(rng, stochastic=bool(seed % 2))
    # an informative raw-input shape; its values divide the input channels (copies or levels of each value)
    d.input_shape = [(), (d.n_inputs,), (1, d.n_inputs)][int(rng.integers(0, 3))]
    d.provenance = {"method": "test", "seed": int(rng.integers(0, 100)), "nested": {"a": [1, 2.5, None]}}
    with tempfile.TemporaryDirectory() as tmp:
        path = save(d, Path(tmp) / "net.sfd")
        assert_same(d, load(path))


@pytest.mark.parametrize(("chip", "encoding"), [(TRUENORTH, "packbits"), (LOIHI_LIKE, "raw")])
def test_round_trip_of_presets_and_crossbar_encoding(tmp_path: Path, chip: object, encoding: str) -> None:
    d = Deployment.empty(chip, 2, 3, 2)  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    lo, hi = d.chip.core.crossbar_min, d.chip.core.crossbar_max
    d.crossbar[:, :37, :29] = rng.integers(lo, hi + 1, (2, 37, 29))
    d.enabled[:, :5] = True
    d.leak[:, :5] = -3
    path = save(d, tmp_path / "x.sfd")
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["arrays"]["crossbar"]["encoding"] == encoding
    assert_same(d, load(path))


def test_save_normalises_dtypes(tmp_path: Path) -> None:
    d = sample(1)
    d.leak = d.leak.astype(np.int64)
    d.enabled = d.enabled.astype(bool)
    out = load(save(d, tmp_path / "n.sfd"))
    assert out.leak.dtype == np.int32
    np.testing.assert_array_equal(out.leak, d.leak)


def test_save_refuses_an_invalid_deployment_and_writes_nothing(tmp_path: Path) -> None:
    d = sample(2)
    d.weights[d.enabled] = 10_000
    with pytest.raises(DesignRuleError):
        save(d, tmp_path / "bad.sfd")
    d.leak = d.leak[:, :-1]
    with pytest.raises(DeploymentError, match="leak: shape"):
        save(d, tmp_path / "bad.sfd", check_rules=False)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------- rejection
@pytest.fixture
def saved(tmp_path: Path) -> tuple[Deployment, Path]:
    d = sample(3)
    return d, save(d, tmp_path / "net.sfd")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DeploymentFileError, match=re.escape(f"{tmp_path / 'nope.sfd'}: no such deployment file")):
        load(tmp_path / "nope.sfd")


@pytest.mark.parametrize("keep", [0.0, 0.3, 0.6, 0.95])
def test_truncated_file(saved: tuple[Deployment, Path], keep: float) -> None:
    _, path = saved
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])
    with pytest.raises(DeploymentFileError, match=re.escape(str(path)) + r": .*truncated or corrupt"):
        load(path)


def _member_data_offset(path: Path, member: str) -> int:
    """Offset of a member's (compressed) data: local header (30 bytes + name + extra) after header_offset."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    raw = path.read_bytes()
    h = info.header_offset
    name_len = int.from_bytes(raw[h + 26:h + 28], "little")
    extra_len = int.from_bytes(raw[h + 28:h + 30], "little")
    return h + 30 + name_len + extra_len


@pytest.mark.parametrize("member", ["crossbar.npy", "weights.npy", "manifest.json", "output_class.npy"])
def test_flipped_byte_in_a_member_is_rejected(saved: tuple[Deployment, Path], member: str) -> None:
    _, path = saved
    raw = bytearray(path.read_bytes())
    raw[_member_data_offset(path, member) + 3] ^= 0x40
    path.write_bytes(bytes(raw))
    with pytest.raises(DeploymentFileError, match=re.escape(str(path)) + r": .*corrupt"):
        load(path)


def test_no_flipped_byte_anywhere_goes_unnoticed(tmp_path: Path) -> None:
    """Flip each of 400 bytes spread over the file: either the load fails with DeploymentFileError naming the
    file, or (a flip in ZIP metadata the reader ignores, such as a timestamp) it returns identical data."""
    d = sample(4)
    path = save(d, tmp_path / "net.sfd")
    raw = path.read_bytes()
    bad = tmp_path / "flipped.sfd"
    for i in np.linspace(0, len(raw) - 1, 400).astype(int):
        b = bytearray(raw)
        b[i] ^= 0xFF
        bad.write_bytes(bytes(b))
        try:
            out = load(bad)
        except DeploymentFileError as e:
            assert str(e).startswith(f"{bad}: "), e
        else:
            assert_same(d, out)


def _rewrite_manifest(path: Path, edit: object, drop: tuple[str, ...] = ()) -> None:
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n not in drop}
    manifest = json.loads(members["manifest.json"])
    edit(manifest)  # type: ignore[operator]
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)


def test_missing_manifest(saved: tuple[Deployment, Path]) -> None:
    _, path = saved
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n != "manifest.json"}
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    with pytest.raises(DeploymentFileError, match=re.escape(f"{path}: no manifest.json")):
        load(path)


def test_not_a_zip_at_all(tmp_path: Path) -> None:
    path = tmp_path / "notes.sfd"
    path.write_text("hello")
    with pytest.raises(DeploymentFileError, match=re.escape(str(path)) + r": not a readable deployment archive"):
        load(path)


@pytest.mark.parametrize("version", [0, FORMAT_VERSION + 1, 99, "1", None])
def test_wrong_format_version(saved: tuple[Deployment, Path], version: object) -> None:
    _, path = saved
    _rewrite_manifest(path, lambda m: m.__setitem__("format_version", version))
    with pytest.raises(DeploymentFileError, match=re.escape(f"{path}: format version {version!r} is not supported")):
        load(path)


def _as_version_1(manifest: dict[str, object]) -> None:
    """What format version 1 wrote: no stochastic modes, no leak reversal, no PRN seed."""
    manifest["format_version"] = 1
    manifest.pop("prng_seed")
    for name in ("stochastic_synapse", "stochastic_leak", "leak_reversal", "threshold_mask"):
        manifest["arrays"].pop(name)  # type: ignore[attr-defined]
    chip = manifest["chip"]["core"]  # type: ignore[index]
    chip.pop("stochastic_modes")
    chip.pop("threshold_mask_bits")


V2_FILES = ("stochastic_synapse.npy", "stochastic_leak.npy", "leak_reversal.npy", "threshold_mask.npy")


@pytest.mark.parametrize("chip", [TRUENORTH, LOIHI_LIKE])
def test_version_1_file_loads_with_the_new_modes_off(tmp_path: Path, chip: object) -> None:
    d = Deployment.empty(chip, 2, 3, 2)  # type: ignore[arg-type]
    d.enabled[:, :4] = True
    d.floor_mode[:, :4] = 0  # with γ = 0: the same meaning in both versions
    path = save(d, tmp_path / "v1.sfd")
    _rewrite_manifest(path, _as_version_1, drop=V2_FILES)
    back = load(path)
    assert back.chip == chip  # chip fields added since come from the preset of the same name
    assert_same(d, back)
    assert not back.stochastic and back.prng_seed == 0


def test_version_1_file_with_changed_negative_resets_warns(tmp_path: Path) -> None:
    from spikeforge.deploy import DeploymentSemanticsWarning

    d = Deployment.empty(TRUENORTH, 1, 1, 1)
    d.enabled[0, :3] = True
    d.floor_mode[0, :3] = 0
    d.reset_mode[0, :3] = [0, 1, 2]
    path = save(d, tmp_path / "v1.sfd")
    _rewrite_manifest(path, _as_version_1, drop=V2_FILES)
    with pytest.warns(DeploymentSemanticsWarning, match="format version 1 file with 2 neuron"):
        load(path)


def test_version_2_file_missing_a_new_array_is_rejected(saved: tuple[Deployment, Path]) -> None:
    _, path = saved
    _rewrite_manifest(path, lambda m: m["arrays"].pop("threshold_mask"))
    with pytest.raises(DeploymentFileError, match="array 'threshold_mask' missing from manifest"):
        load(path)


def test_stochastic_deployment_round_trip(tmp_path: Path) -> None:
    d = Deployment.empty(TRUENORTH, 2, 3, 2)
    d.enabled[:, :6] = True
    d.stochastic_synapse[0, :3, 1] = True
    d.stochastic_leak[1, 2] = True
    d.leak_reversal[0, 4] = True
    d.threshold_mask[1, :6] = [0, 1, 3, 7, 255, 2**18 - 1]
    d.prng_seed = 2**32 - 1
    back = load(save(d, tmp_path / "s.sfd"))
    assert_same(d, back)
    assert back.stochastic


def test_bad_prng_seed_is_rejected(tmp_path: Path) -> None:
    d = Deployment.empty(TRUENORTH, 1, 1, 1)
    for bad in (-1, 2**32, 1.5, True):
        d.prng_seed = bad  # type: ignore[assignment]
        with pytest.raises(DeploymentError, match="prng_seed="):
            save(d, tmp_path / "x.sfd")
    assert not (tmp_path / "x.sfd").exists()


def test_wrong_format_name(saved: tuple[Deployment, Path]) -> None:
    _, path = saved
    _rewrite_manifest(path, lambda m: m.__setitem__("format", "something-else"))
    with pytest.raises(DeploymentFileError, match="format 'something-else' is not 'spikeforge-deployment'"):
        load(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("n_inputs"), "malformed manifest"),
        (lambda m: m["arrays"].pop("leak"), "array 'leak' missing from manifest"),
        (lambda m: m["arrays"]["leak"].__setitem__("sha256", "0" * 64), "array 'leak' fails its SHA-256 check"),
        (lambda m: m["arrays"]["leak"].__setitem__("encoding", "zstd"), "unknown encoding 'zstd'"),
        (lambda m: m["arrays"]["leak"].__setitem__("shape", [1, 2]), "array 'leak' has shape"),
        (lambda m: m["arrays"]["leak"].__setitem__("file", "gone.npy"), "array file 'gone.npy' missing"),
        (lambda m: m["chip"]["core"].__setitem__("n_neurons", 0), "malformed manifest"),
        (lambda m: m.__setitem__("core_labels", []), "core_labels has 0 entries"),
    ],
)
def test_malformed_manifest(saved: tuple[Deployment, Path], edit: object, message: str) -> None:
    _, path = saved
    _rewrite_manifest(path, edit)
    with pytest.raises(DeploymentFileError, match="(?s)" + re.escape(str(path)) + ": .*" + re.escape(message)):
        load(path)


def test_array_stored_with_another_dtype(saved: tuple[Deployment, Path]) -> None:
    _, path = saved
    import io

    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    leak = np.load(io.BytesIO(members["leak.npy"])).astype(np.float64) + 0.5
    buf = io.BytesIO()
    np.save(buf, leak)
    members["leak.npy"] = buf.getvalue()
    manifest = json.loads(members["manifest.json"])
    import hashlib

    manifest["arrays"]["leak"]["sha256"] = hashlib.sha256(members["leak.npy"]).hexdigest()
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    with pytest.raises(DeploymentFileError, match="array 'leak' is stored as float64, expected int32"):
        load(path)


def test_deployment_violating_its_chip_is_rejected_on_load(tmp_path: Path) -> None:
    d = sample(5)
    j = np.argwhere(d.enabled)[0]
    d.leak[tuple(j)] = d.chip.core.leak_max + 1
    path = save(d, tmp_path / "bad-leak.sfd", check_rules=False)
    with pytest.raises(DesignRuleError) as e:
        load(path)
    assert str(e.value).startswith(f"{path}: 1 design-rule violation(s) for chip 'random'")
    assert e.value.source == str(path)
    assert [v.rule for v in e.value.violations] == ["LEAK-RANGE"]
    assert f"core {j[0]} neuron {j[1]}" in str(e.value)
    # the caller may still read it, to repair it
    assert_same(d.normalised(), load(path, check_rules=False))


# ------------------------------------------------------------------------------------------- atomic writes
class Crash(Exception):
    pass


def _crash_mid_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the archive start (manifest + one array written), then fail as a crash would."""
    real = zipfile.ZipFile.writestr
    calls = {"n": 0}

    def writestr(self: zipfile.ZipFile, *a: object, **k: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash("disk full")
        real(self, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(zipfile.ZipFile, "writestr", writestr)


def test_crash_mid_write_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _crash_mid_write(monkeypatch)
    with pytest.raises(Crash):
        save(sample(6), tmp_path / "new.sfd")
    assert list(tmp_path.iterdir()) == []


def test_crash_mid_write_leaves_an_existing_file_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = sample(7)
    path = save(old, tmp_path / "net.sfd")
    before = path.read_bytes()
    _crash_mid_write(monkeypatch)
    with pytest.raises(Crash):
        save(sample(8), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.sfd"]
    assert_same(old, load(path))


def test_crash_at_rename_leaves_an_existing_file_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = sample(9)
    path = save(old, tmp_path / "net.sfd")
    before = path.read_bytes()
    seen: list[bool] = []

    def replace(src: str, dst: str) -> None:
        # at the moment of the rename the new file is complete and the target still holds the old one
        with zipfile.ZipFile(src) as zf:
            seen.append(zf.testzip() is None)
        assert Path(dst).read_bytes() == before
        raise Crash("power cut")

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(Crash):
        save(sample(10), path)
    assert seen == [True]
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.sfd"]


# ------------------------------------------------------------------------------------------- foreign readers
def _doc_example() -> str:
    text = DOCS.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "docs/deployment-format.md has no python example"
    return blocks[0]


def test_file_reads_with_zipfile_json_numpy_alone(tmp_path: Path) -> None:
    """Run the example from docs/deployment-format.md in a fresh interpreter where importing spikeforge fails,
    and compare every array it reads with the deployment that was saved."""
    d = random_deployment(np.random.default_rng(11), random_chip(np.random.default_rng(12), multibit=False))
    d2 = random_deployment(np.random.default_rng(13), random_chip(np.random.default_rng(14), multibit=True))
    for k, dep in enumerate((d, d2)):
        path = save(dep, tmp_path / f"net{k}.sfd")
        out = tmp_path / f"arrays{k}.npz"
        script = (
            "import sys\nsys.modules['spikeforge'] = None  # any import of spikeforge now fails\n"
            + _doc_example()
            + f"\nmanifest, arrays = read_sfd({str(path)!r})\n"
            + f"import numpy\nnumpy.savez({str(out)!r}, **arrays)\n"
            + "assert manifest['format'] == 'spikeforge-deployment'\n"
        )
        env = {k2: v for k2, v in os.environ.items() if k2 != "PYTHONPATH"}
        res = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, env=env,
                             timeout=60)
        assert res.returncode == 0, res.stderr
        got = np.load(out)
        for name, dtype, _ in ARRAY_FIELDS:
            assert got[name].dtype == np.dtype(dtype), name
            np.testing.assert_array_equal(got[name], getattr(dep, name), err_msg=name)


def test_a_chip_posing_as_a_preset_is_refused_on_save_and_load(tmp_path: Path) -> None:
    import dataclasses

    from spikeforge.hardware.spec import preset_differences

    rng = np.random.default_rng(0)
    dep = random_deployment(rng, TRUENORTH, n_cores=1)
    wide = dataclasses.replace(TRUENORTH, core=dataclasses.replace(TRUENORTH.core, weight_min=-1000, weight_max=1000))
    assert preset_differences(TRUENORTH) == [] and preset_differences(LOIHI_LIKE) == []
    assert preset_differences(wide) == ["core.weight_max", "core.weight_min"]
    assert preset_differences(dataclasses.replace(wide, name="tn-wide", base="truenorth")) == []
    posing = dataclasses.replace(dep, chip=wide)
    with pytest.raises(DeploymentError, match=r"named 'truenorth', a preset's, but differs from that preset in "
                                              r"core.weight_max, core.weight_min"):
        save(posing, tmp_path / "p.sfd")
    assert not (tmp_path / "p.sfd").exists()
    # a file edited to pose (checksums intact: the manifest is not checksummed) is refused on load
    save(dep, tmp_path / "ok.sfd")
    with zipfile.ZipFile(tmp_path / "ok.sfd") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest["chip"]["core"]["weight_max"] = 1000
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(tmp_path / "edited.sfd", "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    with pytest.raises(DeploymentFileError, match=r"edited.sfd: its chip is named 'truenorth'.*core.weight_max"):
        load(tmp_path / "edited.sfd")
    # renamed, with its base, it is a chip of one's own: saved and loaded
    own = dataclasses.replace(dep, chip=dataclasses.replace(wide, name="tn-wide", base="truenorth"))
    assert load(save(own, tmp_path / "own.sfd")).chip.name == "tn-wide"
