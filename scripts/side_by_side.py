"""MNIST, every method side by side: accuracy against energy from the committed full benchmark results.

Reads ``benchmarks/results/{binary_vs_probabilistic,eedn,layerwise_ticks}.json`` (full mode only) and
returns one row per measured configuration: method, paper, configuration, chip, accuracy, µJ/image, cores,
ticks per image, images/s and the result file it came from. ``scripts/benchmarks_md.py`` renders the table
into BENCHMARKS.md and draws ``benchmarks/results/mnist_side_by_side.png`` (accuracy against µJ/image, log
scale, one line per method and network, with the published points). Nothing is typed by hand.

    python scripts/side_by_side.py        # print the table
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

PAPERS = {"probabilistic": "Esser et al. 2015", "binary": "Jimeno Yepes & Tang 2016", "eedn": "Esser et al. 2016",
          "layerwise": "Mern et al. 2018", "normalisation": "baseline (Rueckauer et al. 2017)"}

#: published MNIST points (accuracy, µJ/image) — PAPERS.md §1-2; binary energy is not published
PUBLISHED = [("Esser 2015, 5 cores x1", 0.927, 0.268), ("Esser 2015, 64 copies", 0.9942, 108.0)]

COLUMNS = ["method", "paper", "configuration", "chip", "accuracy_pct", "uJ_per_image", "cores",
           "ticks_per_image", "images_per_s", "source"]


def _load(results: Path, name: str) -> dict[str, Any] | None:
    p = results / f"{name}.json"
    if not p.exists():
        return None
    data = json.loads(p.read_text())
    return data if data.get("mode") == "full" else None


def rows(results: Path = RESULTS) -> list[dict[str, Any]]:
    """Every MNIST configuration with both an accuracy and an energy in the full results."""
    out: list[dict[str, Any]] = []
    bvp = _load(results, "binary_vs_probabilistic")
    if bvp:  # plain ensembles, then the same networks with per-copy input schemes (jitter / draws)
        for r in [*bvp["rows"], *bvp.get("scheme_rows", [])]:
            scheme = r.get("scheme", "plain")
            out.append({"method": r["method"], "paper": PAPERS[r["method"]],
                        "configuration": f"{r['network']} x{r['ensemble']}" + ("" if scheme == "plain" else
                                                                               f", {scheme}"),
                        "chip": "truenorth", "accuracy_pct": round(100 * r["accuracy_mean"], 2),
                        "uJ_per_image": r["uJ_per_image"], "cores": r["cores"], "ticks_per_image": 1,
                        "images_per_s": r["fps"], "source": "binary_vs_probabilistic.json",
                        "group": f"{r['method']} {r['network']}", "plain": scheme == "plain"})
    eedn = _load(results, "eedn")
    if eedn:
        for r in eedn["rows"]:
            if r["dataset"] == "mnist":
                out.append({"method": "eedn", "paper": PAPERS["eedn"], "configuration": f"{r['network']} network",
                            "chip": "truenorth", "accuracy_pct": round(100 * r["accuracy"], 2),
                            "uJ_per_image": r["uJ_per_image"], "cores": r["cores"],
                            "ticks_per_image": 1, "images_per_s": r["fps"], "source": "eedn.json",
                            "group": "eedn", "plain": True})
    lt = _load(results, "layerwise_ticks")
    if lt:
        for r in lt["rows"]:
            out.append({"method": r["method"], "paper": PAPERS[r["method"]],
                        "configuration": f"MLP 784-300-100-10, T={r['ticks']}", "chip": r["chip"],
                        "accuracy_pct": round(100 * r["snn_accuracy"], 2), "uJ_per_image": r["uJ_per_image"],
                        "cores": r["cores"], "ticks_per_image": r["ticks"] + r["latency_ticks"],
                        "images_per_s": r["fps"], "source": "layerwise_ticks.json",
                        "group": f"{r['method']} MLP {r['chip']}", "plain": True})
    return out


#: energy budgets (µJ per image) of the summary table
BUDGETS = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)


def best_within(table: list[dict[str, Any]], budget: float) -> dict[str, Any] | None:
    """The most accurate configuration costing at most ``budget`` µJ per image (ties: the cheaper)."""
    fits = [r for r in table if r["uJ_per_image"] <= budget]
    return max(fits, key=lambda r: (r["accuracy_pct"], -r["uJ_per_image"])) if fits else None


def markdown(table: list[dict[str, Any]]) -> str:
    """For each energy budget, the most accurate measured configuration within it, as a Markdown table."""
    head = ["µJ budget", "method", "paper", "configuration", "chip", "accuracy %", "µJ / image", "cores",
            "ticks per image", "images / s", "from"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for b in BUDGETS:
        r = best_within(table, b)
        if r is None:
            continue
        lines.append("| " + " | ".join([f"≤ {b:g}", r["method"], r["paper"], r["configuration"], r["chip"],
                                         f"{r['accuracy_pct']:.2f}", f"{r['uJ_per_image']:.3g}", str(r["cores"]),
                                         str(r["ticks_per_image"]), f"{r['images_per_s']:.0f}",
                                         f"`{r['source']}`"]) + " |")
    return "\n".join(lines)


def plot(table: list[dict[str, Any]], path: Path) -> None:
    """Accuracy against µJ/image (log), one line per method and network, published points as stars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from spikeforge.fileio import atomic_output

    fig, ax = plt.subplots(figsize=(8.5, 5.5))
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in table:
        groups.setdefault(r["group"], []).append(r)
    for name, rs in groups.items():
        line = sorted((r for r in rs if r["plain"]), key=lambda r: r["uJ_per_image"])
        (h,) = ax.plot([r["uJ_per_image"] for r in line], [r["accuracy_pct"] for r in line], "o-", ms=4, lw=1.2,
                       label=name)
        extra = [r for r in rs if not r["plain"]]  # per-copy input schemes: same cores, hollow markers
        ax.plot([r["uJ_per_image"] for r in extra], [r["accuracy_pct"] for r in extra], "o", ms=4,
                mfc="none", color=h.get_color())
    for label, acc, uj in PUBLISHED:
        ax.plot([uj], [100 * acc], "k*", ms=11)
        ax.annotate(label, (uj, 100 * acc), textcoords="offset points", xytext=(6, -12), fontsize=7)
    ax.set_xscale("log")
    ax.set_ylim(max(50.0, min(r["accuracy_pct"] for r in table) - 0.5), 100.0)
    ax.set_xlabel("µJ / image (energy model, simulated activity)")
    ax.set_ylabel("MNIST test accuracy (%)")
    ax.set_title("MNIST: every spikeforge method on the simulator (hollow: per-copy input schemes; "
                 "stars: published)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right", ncol=2)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def main() -> int:
    print(markdown(rows()))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    raise SystemExit(main())
