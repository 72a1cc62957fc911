"""gulp_20bn_csv_jpeg: gulp a 20BN dataset whose videos are folders of JPEGs.

Every line of the CSV file is "id;label" (a line holding only an id is a
test-split item, labelled "dummy"); the frames of id X are the sorted
<jpeg_directory>/X/*.jpg files.

Usage:
    gulp_20bn_csv_jpeg [options] <input_csv> <jpeg_directory> <output_directory>
    gulp_20bn_csv_jpeg -h | --help
    gulp_20bn_csv_jpeg --version

Arguments:
    <input_csv>           ";"-separated "id;label" lines.
    <jpeg_directory>      Folder with one sub-folder of .jpg frames per id.
$OUTPUT_DIRECTORY

Options:
    --videos_per_chunk=<n>  Videos in one chunk [default: 100].
    --num_workers=<n>       Parallel worker processes [default: 4].
    --image_size=<px>       Shorter edge of the stored frames, -1 keeps the
                            size [default: -1].
    --shuffle               Shuffle the videos before writing.
    --shm_dir=<dir>         Unused; accepted for compatibility [default: /dev/shm].
$FINAL_OPTIONS

Exit status: 0 all written, 3 some items skipped (listed), 1 bad input,
2 usage error.
"""
from typing import Any, Dict, Optional, Sequence

from ..adapters import Custom20BNCsvJpegAdapter
from . import _common

__doc__ = _common.usage_text(__doc__)
PROG = "gulp_20bn_csv_jpeg"


def plan(args: Dict[str, Any]) -> _common.IngestJob:
    kwargs = dict(csv_file=args["<input_csv>"], folder=args["<jpeg_directory>"],
                  output_folder=args["<output_directory>"], shuffle=args["--shuffle"],
                  frame_size=_common.to_size(args["--image_size"], "--image_size"),
                  shm_dir_path=args["--shm_dir"],
                  remove_duplicate_ids=args["--remove_duplicates"])
    return _common.common_job(args, lambda: Custom20BNCsvJpegAdapter(**kwargs))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; ``argv`` without the program name (default: ``sys.argv``)."""
    return _common.run_command(PROG, __doc__, argv, plan)


if __name__ == "__main__":
    raise SystemExit(main())
