"""Print the targets of the benchmark suite and how a run met them, as an
reStructuredText table (pasted into docs/performance.rst).

    python benchmarks/report.py [benchmarks/results/run.json]
"""
import json
import math
import os
import sys
from typing import Any, Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))


def rows(results: Dict[str, Any]) -> List[Tuple[str, str, str, str]]:
    out = []

    def add(what: str, target: float, value: float, detail: str) -> None:
        verdict = "met" if value >= target else "not met"
        # A miss that two decimals would round up to the target is shown
        # cut (not rounded) to three.
        shown = (f"{value:.2f}" if value >= target or round(value, 2) < target
                 else f"{math.floor(value * 1000) / 1000:.3f}")
        out.append((what, f">= {target:g}x", f"{shown}x ({detail})", verdict))

    read = results.get("read", {})
    for size in ("427x240", "340x256"):
        if size in read:
            r = read[size]
            add(f"read {size} whole items vs decode-only", 0.95,
                r["whole_vs_decode_only"], "loop discarding each frame")
            add(f"read {size} whole items vs decode-only, frames kept", 0.95,
                r["whole_vs_decode_only_kept"], "loop keeping an item's frames")
    opened = results.get("open", {})
    if opened:
        add("open SSv2-sized directory: speed", 5, opened["speedup"],
            f"{opened['original']['seconds']:.1f} s -> "
            f"{opened['ours']['seconds']:.2f} s")
        add("open SSv2-sized directory: resident memory", 4,
            opened["memory_ratio"],
            f"{opened['original']['rss_mb']:.0f} MB -> "
            f"{opened['ours']['rss_mb']:.0f} MB")
        add("first batch of a 2-worker spawn loader", 10,
            opened["spawn_first_batch_speedup"],
            f"{opened['spawn_first_batch_original_s']:.1f} s -> "
            f"{opened['spawn_first_batch_ours_s']:.2f} s")
    e2e = results.get("e2e", {})
    for size, reduction in ((112, 2), (56, 4)):
        for workers in (0, 1, 2):
            key = f"scale{size}_reduction{reduction}_vs_1_workers{workers}"
            if key in e2e:
                add(f"reduction={reduction}, Scale({size}), {workers} "
                    f"worker{'s' * (workers != 1)}",
                    1.3, e2e[key], "end-to-end clips/s vs full-size decoding")
    if "workers2_vs_0" in e2e:
        add("loader: 2 workers vs 0", 1.7, e2e["workers2_vs_0"],
            "end-to-end clips/s")
    ingest = results.get("ingest", {})
    for key, value in ingest.items():
        if isinstance(value, dict) and "speedup" in value:
            add(f"ingest {key.replace('_', ' ')}", 3, value["speedup"],
                f"CPU per frame {value['cpu_ratio']:.1f}x less")
    transport = results.get("transport", {})
    if transport:
        add(f"{transport['batch_mb']:.0f} MB batch: shared memory vs pipe", 2,
            transport["speedup_receive_and_read"], "received and read once")
    return out


def main(argv: List[str]) -> None:
    source = argv[1] if len(argv) > 1 else os.path.join(HERE, "results",
                                                         "run.json")
    with open(source) as fp:
        results = json.load(fp)
    table = [("target", "wanted", "measured", "")] + rows(results)
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    rule = "  ".join("=" * w for w in widths)
    print(rule)
    for k, row in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if k == 0:
            print(rule)
    print(rule)


if __name__ == "__main__":
    main(sys.argv)
