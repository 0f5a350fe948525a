"""spikeforge.fileio: complete files or none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from spikeforge.fileio import atomic_output, torch_save_atomic, write_json_atomic, write_text_atomic


def test_replaces_only_when_complete(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "results.json"
    write_json_atomic(p, {"a": 1, "b": torch.tensor(2.5)})  # scalars via .item()
    assert json.loads(p.read_text()) == {"a": 1, "b": 2.5}
    with pytest.raises(RuntimeError, match="interrupted"), atomic_output(p) as tmp:
        assert tmp.parent == p.parent and tmp.name.endswith(".json") and tmp != p
        tmp.write_text('{"a": ')  # half written
        raise RuntimeError("interrupted")
    assert json.loads(p.read_text()) == {"a": 1, "b": 2.5}  # the old file, untouched
    assert sorted(x.name for x in p.parent.iterdir()) == ["results.json"]  # no temporary left


def test_text_and_torch(tmp_path: Path) -> None:
    write_text_atomic(tmp_path / "index.md", "# é\n")
    assert (tmp_path / "index.md").read_text(encoding="utf-8") == "# é\n"
    torch_save_atomic({"w": torch.arange(3)}, tmp_path / "m.pt")
    assert torch.equal(torch.load(tmp_path / "m.pt")["w"], torch.arange(3))
    assert sorted(x.name for x in tmp_path.iterdir()) == ["index.md", "m.pt"]


def test_finished_files_get_the_umask_mode_or_keep_the_replaced_files_mode(tmp_path: Path) -> None:
    import os

    old = os.umask(0o027)
    try:
        fresh = tmp_path / "fresh.json"
        write_json_atomic(fresh, {"a": 1})
        assert fresh.stat().st_mode & 0o777 == 0o640  # 0o666 & ~0o027, not mkstemp's 0o600
        kept = tmp_path / "kept.txt"
        kept.write_text("old")
        kept.chmod(0o604)
        write_text_atomic(kept, "new")
        assert kept.read_text() == "new" and kept.stat().st_mode & 0o777 == 0o604
    finally:
        os.umask(old)
    assert os.umask(old) == old  # the umask is left as it was


def test_errors_name_the_destination_not_the_temporary_file(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError) as folder:
        write_text_atomic(tmp_path, "x")  # an existing folder: refused before anything is written
    assert folder.value.filename == str(tmp_path) and "is a folder" in str(folder.value)
    assert list(tmp_path.iterdir()) == []
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(OSError) as under_file:  # a parent that is a file: the temporary file cannot be made
        write_text_atomic(blocked / "out.json", "x")
    assert under_file.value.filename in (str(blocked / "out.json"), str(blocked))
    with pytest.raises(OSError) as failed:  # the write itself fails on the temporary file
        with atomic_output(tmp_path / "out.bin") as tmp:
            raise PermissionError(13, "Permission denied", str(tmp))
    assert failed.value.filename == str(tmp_path / "out.bin")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
