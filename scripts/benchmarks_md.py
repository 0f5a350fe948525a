"""Render BENCHMARKS.md from the committed full results in benchmarks/results/*.json.

Every number in BENCHMARKS.md comes from a results file, printed next to the command and commit that
produced it; nothing is typed by hand. Run: ``python scripts/benchmarks_md.py`` (writes BENCHMARKS.md and
the side-by-side plot); ``--check`` only says whether the committed BENCHMARKS.md is what the results give.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

INTRO = """# Benchmarks

Full results of the scripts in `benchmarks/`, rendered from `benchmarks/results/*.json` by
`python scripts/benchmarks_md.py` — every number below is read from those files, with the command and the commit
that produced it. `--quick` runs (what CI runs on every push) write to `benchmarks/results/quick/` and never over
these files. Every section names the machine its run used (its `machine` field): the project's development
machines have 2 CPU cores (an Intel Xeon or an AMD EPYC, by session), 24 GB RAM, no GPU, torch 2.13.0 CPU
build; the GPU section ran on an NVIDIA H200.
"""

ORDER = ["sim_throughput", "sim_throughput_cuda", "sim_ensembles", "sim_stochastic", "energy_calibration", "esser2015",
         "binary_vs_probabilistic", "eedn", "layerwise", "layerwise_ticks", "memory_organisation"]

TITLES = {
    "sim_throughput": "Simulator throughput (issue: foundation §5)",
    "sim_throughput_cuda": "Simulator throughput on a GPU (the same network, `--device cuda`, NVIDIA H200)",
    "sim_ensembles": "Simulator cost on the methods' ensemble deployments (compile, sequential, pipelined)",
    "sim_stochastic": "Simulator cost of TrueNorth's stochastic modes and leak reversal (exactness checked)",
    "energy_calibration": "Energy model calibration against published anchors (foundation §6)",
    "esser2015": "Probabilistic synapses, Esser et al. 2015",
    "binary_vs_probabilistic": "Binary crossbars (Jimeno Yepes & Tang 2016) vs probabilistic",
    "eedn": "Convolutional networks on cores (Esser et al. 2016, Eedn)",
    "layerwise": "Layer-wise synapse optimisation (Mern et al. 2018)",
    "layerwise_ticks": "Conversion vs rate-code length T (layer-wise vs normalisation)",
    "memory_organisation": "Synaptic-memory organisation (Schaefer et al. 2020)",
}


#: Lists of records rendered as tables after the rows (when a result file has them).
LIST_TABLES = ("scheme_rows", "targets", "surrogates", "energy_at_equal_accuracy")


def fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1e5 or abs(v) < 1e-3:
            return f"{v:.3e}"
        return f"{v:.4g}"
    if isinstance(v, dict | list):
        return json.dumps(v)[:60]
    return str(v)


def table(rows: list[dict[str, Any]]) -> str:
    cols: list[str] = []
    for r in rows:
        for k, v in r.items():
            if k not in cols and not isinstance(v, dict | list):
                cols.append(k)
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |")
    return "\n".join(out)


def section(name: str, data: dict[str, Any]) -> str:
    lines = [f"## {TITLES.get(name, name)}", "",
             f"`{data.get('command', '?')}` — mode `{data.get('mode', '?')}`, commit `{data.get('git_commit', '?')}`"]
    if "machine" in data:
        lines.append(f"; machine: {data['machine']}")
    lines.append("")
    scalars = {k: v for k, v in data.items()
               if k not in ("rows", "command", "mode", "git_commit", "machine") and not isinstance(v, dict | list)}
    if scalars:
        lines += ["| field | value |", "|---|---|"] + [f"| {k} | {fmt(v)} |" for k, v in scalars.items()] + [""]
    for k, v in data.items():
        if isinstance(v, dict) and v and all(not isinstance(x, dict | list) for x in v.values()):
            lines += [f"**{k}**", "", "| key | value |", "|---|---|"]
            lines += [f"| {kk} | {fmt(vv)} |" for kk, vv in v.items()] + [""]
        elif (isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values())
              and all(not isinstance(y, dict | list) for x in v.values() for y in x.values())):
            # a table of tables (e.g. per chip, per T): one row per outer key
            cols = list(dict.fromkeys(c for x in v.values() for c in x))
            lines += [f"**{k}**", "", "| | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
            lines += ["| " + kk + " | " + " | ".join(fmt(vv.get(c, "")) for c in cols) + " |"
                      for kk, vv in v.items()] + [""]
    rows = data.get("rows")
    if isinstance(rows, list) and rows and isinstance(rows[0], dict):
        lines += [table(rows), ""]
    for k in LIST_TABLES:
        v = data.get(k)
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            lines += [f"**{k}**", "", table(v), ""]
    return "\n".join(lines)


def side_by_side_section(plot: bool = True) -> str:
    """Every method on MNIST from the result files (``scripts/side_by_side.py``), and its plot."""
    sys.path.insert(0, str(ROOT / "scripts"))
    sys.path.insert(0, str(ROOT / "src"))
    import side_by_side

    table = side_by_side.rows(RESULTS)
    if not table:
        return ""
    if plot:
        side_by_side.plot(table, RESULTS / "mnist_side_by_side.png")
    return "\n".join([
        "## MNIST: every method side by side", "", "<!-- --8<-- [start:side-by-side] -->",
        f"{len(table)} measured configurations of the full results below (accuracy from the simulator's spikes on "
        "the 10 000 test images, µJ from the energy model on simulated activity; probabilistic rows: mean over "
        "seeds). For each energy budget, the most accurate configuration within it "
        "(`scripts/side_by_side.py`); all of them are plotted in `benchmarks/results/mnist_side_by_side.png`.",
        "", side_by_side.markdown(table), "", "<!-- --8<-- [end:side-by-side] -->", ""])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="write nothing; exit 1 if the committed BENCHMARKS.md differs from what the results give")
    a = ap.parse_args(argv)
    parts = [INTRO, side_by_side_section(plot=not a.check)]
    names = [n for n in ORDER if (RESULTS / f"{n}.json").exists()]
    names += sorted(p.stem for p in RESULTS.glob("*.json") if p.stem not in ORDER)
    missing = [n for n in ORDER if n not in names]
    for n in names:
        data = json.loads((RESULTS / f"{n}.json").read_text())
        if data.get("mode") != "full":
            print(f"skipping {n}: mode is {data.get('mode')!r}, not 'full'", file=sys.stderr)
            continue
        parts.append(section(n, data))
    if missing:
        parts.append("## Not yet run in full\n\n" + "\n".join(f"- `benchmarks/{n}.py`" for n in missing) + "\n")
    text = "\n".join(parts)
    if a.check:
        same = (ROOT / "BENCHMARKS.md").read_text() == text
        print("BENCHMARKS.md is " + ("up to date" if same else "stale: run python scripts/benchmarks_md.py"))
        return 0 if same else 1
    (ROOT / "BENCHMARKS.md").write_text(text)
    print(f"wrote BENCHMARKS.md ({len(names)} result files)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
