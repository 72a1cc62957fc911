"""gulp_image_folder: gulp a folder of labelled images.

The images are <images_directory>/<label>/<image> (.jpg and .png); the id of
an image is "<label>-<image file name>".

Usage:
    gulp_image_folder [options] <images_directory> <output_directory>
    gulp_image_folder -h | --help
    gulp_image_folder --version

Arguments:
    <images_directory>    Folder with one sub-folder of images per label.
$OUTPUT_DIRECTORY

Options:
    --images_per_chunk=<n>  Images in one chunk [default: 100].
    --num_workers=<n>       Parallel worker processes [default: 4].
    --image_size=<px>       Shorter edge of the stored images, -1 keeps the
                            size [default: -1].
    --shuffle               Shuffle the images before writing.
$FINAL_OPTIONS

Exit status: 0 all written, 3 some images skipped (listed), 1 bad input,
2 usage error.
"""
from typing import Any, Dict, Optional, Sequence

from ..adapters import ImageFolderAdapter
from . import _common

__doc__ = _common.usage_text(__doc__)
PROG = "gulp_image_folder"


def plan(args: Dict[str, Any]) -> _common.IngestJob:
    kwargs = dict(folder=args["<images_directory>"], output_folder=args["<output_directory>"],
                  shuffle=args["--shuffle"],
                  img_size=_common.to_size(args["--image_size"], "--image_size"),
                  remove_duplicate_ids=args["--remove_duplicates"])
    return _common.common_job(args, lambda: ImageFolderAdapter(**kwargs),
                              per_chunk_key="--images_per_chunk")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; ``argv`` without the program name (default: ``sys.argv``)."""
    return _common.run_command(PROG, __doc__, argv, plan)


if __name__ == "__main__":
    raise SystemExit(main())
