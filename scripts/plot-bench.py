#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Draw runs of scripts/bench.sh --json as one PNG.

    scripts/plot-bench.py [-o OUT.png] [--title TEXT] RUN.json [RUN.json...]

One horizontal bar per case and run: the engine's figure over the
baseline's (the table's ratio column), on a log scale when the ratios
span more than 20x, with a line at 1 (as good as the baseline). Cases
come in the order of the first run that has them; a run without a case,
or with no ratio for it ("-"), leaves its bar out. Each run is named in
the legend by its date, commit and setup. Needs python3-matplotlib
(scripts/deps.sh); run it with /usr/bin/python3, which sees Debian's
packages.
"""

import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402


def load(path):
    with open(path) as f:
        doc = json.load(f)
    if not isinstance(doc.get("rows"), list):
        raise ValueError(f"{path}: no 'rows' (not a bench.sh --json file)")
    return doc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", metavar="RUN.json")
    ap.add_argument("-o", "--out", default="bench.png")
    ap.add_argument("--title", default="shoal bench: engine / baseline")
    a = ap.parse_args()
    try:
        runs = [load(p) for p in a.runs]
    except (OSError, ValueError) as e:
        print(f"plot-bench: {e}", file=sys.stderr)
        return 1

    cases = []
    for r in runs:
        for row in r["rows"]:
            if row["case"] not in cases and row.get("ratio") is not None:
                cases.append(row["case"])
    if not cases:
        print("plot-bench: no row has a ratio", file=sys.stderr)
        return 1
    ratios = [{row["case"]: row.get("ratio") for row in r["rows"]}
              for r in runs]
    values = [v for rr in ratios for v in rr.values() if v]

    height = 0.8 / len(runs)
    fig, ax = plt.subplots(figsize=(8, 1.6 + 0.28 * len(cases) * len(runs)))
    for i, (r, rr) in enumerate(zip(runs, ratios)):
        ys = [c + i * height for c in range(len(cases))
              if rr.get(cases[c])]
        xs = [rr[cases[c]] for c in range(len(cases)) if rr.get(cases[c])]
        label = (f"{r.get('date', '?')[:10]} {r.get('commit', '')}\n"
                 f"{r.get('setup', '')}")
        bars = ax.barh(ys, xs, height=height, label=label)
        ax.bar_label(bars, fmt="%g", fontsize=7, padding=2)
    ax.axvline(1, color="black", linewidth=0.8)
    if values and max(values) / min(values) > 20:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks([c + height * (len(runs) - 1) / 2
                   for c in range(len(cases))])
    ax.set_yticklabels(cases, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("engine / baseline (the table's ratio)")
    ax.set_title(a.title, fontsize=10)
    ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    fig.savefig(a.out, dpi=80)
    print(f"plot-bench: {len(cases)} cases, {len(runs)} run(s) -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
