"""gulp_activitynet: gulp one subset of ActivityNet.

The JSON file is ActivityNet's ({"database": {"<vid>": {"subset": ...}}});
the video of <vid> is <videos_directory>/<vid>.<ext> (or v_<vid>.<ext>).
Every frame is kept; the stored meta of a video is its database entry.

Usage:
    gulp_activitynet [options] <input_json> <videos_directory> <output_directory>
    gulp_activitynet -h | --help
    gulp_activitynet --version

Arguments:
    <input_json>          ActivityNet's JSON file (.json or .json.gz).
    <videos_directory>    Folder holding the videos.
$OUTPUT_DIRECTORY

Options:
    --videos_per_chunk=<n>  Videos in one chunk [default: 100].
    --num_workers=<n>       Parallel worker processes [default: 4].
    --image_size=<px>       Shorter edge of the stored frames, -1 keeps the
                            size [default: -1].
    --shuffle               Shuffle the videos before writing.
$SHM_DIR_OPTION
    --phase=<subset>        Subset to gulp: training, validation or testing
                            [default: training].
$FINAL_OPTIONS

Exit status: 0 all written, 3 some videos skipped (listed), 1 bad input,
2 usage error.
"""
from typing import Any, Dict, Optional, Sequence

from ..adapters import ActivitynetAdapter
from . import _common

__doc__ = _common.usage_text(__doc__)
PROG = "gulp_activitynet"


def plan(args: Dict[str, Any]) -> _common.IngestJob:
    kwargs = dict(json_file=args["<input_json>"], folder=args["<videos_directory>"],
                  shuffle=args["--shuffle"],
                  frame_size=_common.to_size(args["--image_size"], "--image_size"),
                  shm_dir_path=args["--shm_dir"], phase=args["--phase"])
    return _common.common_job(args, lambda: ActivitynetAdapter(**kwargs),
                              drop_duplicates=args["--remove_duplicates"])


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; ``argv`` without the program name (default: ``sys.argv``)."""
    return _common.run_command(PROG, __doc__, argv, plan)


if __name__ == "__main__":
    raise SystemExit(main())
