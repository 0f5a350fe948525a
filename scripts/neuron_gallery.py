"""Draw docs/img/neuron_gallery.png by running the example of docs/neuron-behaviours.md as written.

    python scripts/neuron_gallery.py

The figure is the page's own code (its first Python block), run in docs/img/, so it cannot drift from it;
tests/test_docs_examples.py runs the same block.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "neuron-behaviours.md"


def main() -> int:
    block = re.search(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S)
    if block is None:
        raise SystemExit(f"{PAGE}: no python block")
    out = ROOT / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    os.chdir(out)
    exec(compile(block.group(1), str(PAGE), "exec"), {"__name__": "__gallery__"})
    print(f"wrote {(out / 'neuron_gallery.png').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
