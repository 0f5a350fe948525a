"""Every Python example in the documentation (docs/**/*.md) runs as written.

The blocks of one page run in order in one namespace (a page may build on its earlier blocks), in a
fresh working directory, on the offline datasets (scikit-learn's digits; MNIST where a page needs it).
An example that prints ``False`` (a failed self-check) fails too. README.md's example is not run here: it
evaluates the default recipe's deployment, which takes minutes to train (``make demo`` runs it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(ROOT.joinpath("docs").rglob("*.md"))
BLOCK = re.compile(r"```python\n(.*?)```", flags=re.S)
EXAMPLES = {p.relative_to(ROOT).as_posix(): BLOCK.findall(p.read_text(encoding="utf-8")) for p in PAGES}
EXAMPLES = {k: v for k, v in EXAMPLES.items() if v}


def test_the_documentation_has_examples() -> None:
    assert len(EXAMPLES) >= 8, sorted(EXAMPLES)


@pytest.mark.parametrize("page", sorted(EXAMPLES))
def test_doc_examples_run(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__doc_example__"}
    for i, code in enumerate(EXAMPLES[page]):
        exec(compile(code, f"{page} (python block {i})", "exec"), namespace)
    assert "False" not in capsys.readouterr().out
