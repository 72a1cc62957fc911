"""Draw docs/performance.png from the JSON that benchmarks/run.py wrote.

    python benchmarks/plot.py [benchmarks/results/run.json] [docs/performance.png]

Needs matplotlib (``pip install ".[bench]"``).
"""
import json
import os
import sys

try:
    import matplotlib
except ImportError:
    sys.exit('plot.py needs matplotlib: pip install ".[bench]"')

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def bars(ax, labels, values, title, unit, highlight=()):
    colours = ["#d95f02" if k in highlight else "#1b9e77"
               for k in range(len(values))]
    ax.barh(range(len(values)), values, color=colours)
    ax.set_yticks(range(len(values)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(unit, fontsize=8)
    for k, v in enumerate(values):
        ax.text(v, k, f" {v:.3g}", va="center", fontsize=7)


def main(argv):
    source = argv[1] if len(argv) > 1 else os.path.join(HERE, "results",
                                                         "run.json")
    out = argv[2] if len(argv) > 2 else os.path.join(HERE, "..", "docs",
                                                     "performance.png")
    with open(source) as fp:
        results = json.load(fp)
    panels = [k for k in ("read", "e2e", "open", "ingest", "transport")
              if k in results]
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.3 * len(panels)))
    axes = [axes] if len(panels) == 1 else list(axes)
    for ax, name in zip(axes, panels):
        data = results[name]
        if name == "read":
            fps = data["427x240"]["frames_per_s"]
            labels = list(fps)
            bars(ax, labels, [fps[k] for k in labels],
                 "read 427x240 frames", "frames/s",
                 highlight=[k for k, l in enumerate(labels) if "gulpio" in l])
        elif name == "e2e":
            # The clips/s of each loader (not the speed-ups or epoch times).
            keys = [k for k in data if k.startswith("scale")
                    and "_vs_" not in k and isinstance(data[k], float)]
            bars(ax, [k.replace("_", ", ") for k in keys],
                 [data[k] for k in keys],
                 "GulpVideoDataset -> DataLoader, batch 8", "clips/s")
        elif name == "open":
            labels = ["original: seconds", "gulpio: seconds",
                      "original: RSS GB", "gulpio: RSS GB"]
            values = [data["original"]["seconds"], data["ours"]["seconds"],
                      data["original"]["rss_mb"] / 1024,
                      data["ours"]["rss_mb"] / 1024]
            bars(ax, labels, values,
                 f"open {data['items']} items / {data['chunks']} chunks",
                 "seconds or GB", highlight=[1, 3])
        elif name == "ingest":
            labels, values = [], []
            for key, ways in data.items():
                if not isinstance(ways, dict):
                    continue
                for way, numbers in ways.items():
                    if isinstance(numbers, dict):
                        labels.append(f"{key}: {way}")
                        values.append(numbers["frames_per_s"])
            bars(ax, labels, values, "ingest (one worker)", "frames/s",
                 highlight=[k for k, l in enumerate(labels) if "gulpio" in l])
        elif name == "transport":
            bars(ax, ["pipe", "shared memory"],
                 [data["pipe_receive_and_read_ms"],
                  data["shm_receive_and_read_ms"]],
                 f"move a {data['batch_mb']:.0f} MB batch from a worker",
                 "ms (lower is better)", highlight=[1])
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv)
