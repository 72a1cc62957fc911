"""Draw the record layout of a real chunk: docs/data_file_layout.png.

    python docs/make_layout_figure.py [GULP_DIRECTORY [CHUNK_NUMBER]]

Reads the meta file of the chunk (by default chunk 1 of the golden test
directory) and draws every record of its data file as a bar: the JPEG bytes
and, hatched, the zero padding that aligns the next record to 4 bytes.
Needs matplotlib (``pip install ".[bench]"``).
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from gulpio import GulpDirectory  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = os.path.join(HERE, "..", "tests", "data", "golden")


def draw_boundary(ax, data_path, record):
    """The bytes around the end of one record, as hex cells."""
    id_, i, offset, pad, length = record
    end = offset + length
    first = max(offset, end - pad - 6)
    with open(data_path, "rb") as fp:
        fp.seek(first)
        data = fp.read(end + 6 - first)
    for k, byte in enumerate(data):
        position = first + k
        if position < end - pad:
            colour, part = "#9ecae1", "jpeg"
        elif position < end:
            colour, part = "white", "pad"
        else:
            colour, part = "#fdd0a2", "next"
        ax.add_patch(plt.Rectangle((k, 0), 1, 1, facecolor=colour,
                                   edgecolor="black",
                                   hatch="////" if part == "pad" else None))
        ax.text(k + 0.5, 0.5, f"{byte:02X}", ha="center", va="center",
                fontsize=8)
    ax.set_xlim(0, len(data))
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_xticks([k + 0.5 for k in range(len(data))])
    ax.set_xticklabels([str(first + k) for k in range(len(data))],
                       fontsize=6, rotation=60)
    ax.set_title(f"end of record {id_} #{i}: JPEG end-of-image marker FF D9, "
                 f"{pad} zero byte(s) of padding, then the next record's "
                 "FF D8", fontsize=9)


def main(argv):
    folder = argv[1] if len(argv) > 1 else DEFAULT
    number = int(argv[2]) if len(argv) > 2 else 1
    chunk = GulpDirectory(folder).chunk_objs_lookup[number]
    records = [(id_, i, offset, pad, length)
               for id_, entry in chunk.meta_dict.items()
               for i, (offset, pad, length) in enumerate(entry["frame_info"])]
    fig, (ax, zoom) = plt.subplots(2, 1, figsize=(10, 4.2),
                                   gridspec_kw={"height_ratios": [3, 2]})
    colours = plt.get_cmap("tab10")
    ids = list(chunk.meta_dict)
    for id_, i, offset, pad, length in records:
        colour = colours(ids.index(id_) % 10)
        ax.barh(0, length - pad, left=offset, color=colour, edgecolor="black")
        if pad:
            ax.barh(0, pad, left=offset + length - pad, color="white",
                    edgecolor="black", hatch="////")
        ax.text(offset + (length - pad) / 2, 0, f"{id_}\n#{i}\npad {pad}",
                ha="center", va="center", fontsize=7)
    ax.set_yticks([])
    ax.set_xlabel(f"byte offset in {os.path.basename(chunk.data_file_path)} "
                  f"({os.path.getsize(chunk.data_file_path)} bytes)")
    ax.set_title("records: JPEG bytes (coloured by item) + zero padding "
                 "(hatched) to a multiple of 4")
    draw_boundary(zoom, chunk.data_file_path, records[0])
    fig.tight_layout()
    out = os.path.join(HERE, "data_file_layout.png")
    fig.savefig(out, dpi=110)
    print(f"wrote {out} from {chunk.data_file_path}: {len(records)} records")


if __name__ == "__main__":
    main(sys.argv)
