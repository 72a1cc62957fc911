"""gulp_image_list: gulp the images named in a list file.

Every line of the list file is "path,label"; paths are relative to the
folder given with --root_path (by default: the current directory).  The id of an image is the
base name of "<label>-<path>".

Usage:
    gulp_image_list [options] <image_list_file> <output_directory>
    gulp_image_list -h | --help
    gulp_image_list --version

Arguments:
    <image_list_file>     Text file of "path,label" lines.
$OUTPUT_DIRECTORY

Options:
    --images_per_chunk=<n>  Images in one chunk [default: 100].
    --num_workers=<n>       Parallel worker processes [default: 4].
    --image_size=<px>       Shorter edge of the stored images, -1 keeps the
                            size [default: -1].
    --root_path=<dir>       Folder the paths are relative to (default: the
                            current directory).
    --shuffle               Shuffle the images before writing.
$FINAL_OPTIONS

Exit status: 0 all written, 3 some images skipped (listed), 1 bad input,
2 usage error.
"""
from typing import Any, Dict, Optional, Sequence

from ..adapters import ImageListAdapter
from . import _common

__doc__ = _common.usage_text(__doc__)
PROG = "gulp_image_list"


def plan(args: Dict[str, Any]) -> _common.IngestJob:
    kwargs = dict(input_file=args["<image_list_file>"], output_folder=args["<output_directory>"],
                  root_folder=args["--root_path"] or "", shuffle=args["--shuffle"],
                  img_size=_common.to_size(args["--image_size"], "--image_size"),
                  remove_duplicate_ids=args["--remove_duplicates"])
    return _common.common_job(args, lambda: ImageListAdapter(**kwargs),
                              per_chunk_key="--images_per_chunk")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; ``argv`` without the program name (default: ``sys.argv``)."""
    return _common.run_command(PROG, __doc__, argv, plan)


if __name__ == "__main__":
    raise SystemExit(main())
