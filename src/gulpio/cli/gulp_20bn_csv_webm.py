"""gulp_20bn_csv_webm: gulp a 20BN dataset given as a CSV list of webm videos.

Every line of the CSV file is "id;label" (a line holding only an id is a
test-split video, labelled "dummy"); the video of id X is
<videos_directory>/X.webm.  Frames are decoded in-process (no ffmpeg needed).

Usage:
    gulp_20bn_csv_webm [options] <input_csv> <videos_directory> <output_directory>
    gulp_20bn_csv_webm -h | --help
    gulp_20bn_csv_webm --version

Arguments:
    <input_csv>           ";"-separated "id;label" lines.
    <videos_directory>    Folder holding <id>.webm files.
$OUTPUT_DIRECTORY

Options:
    --videos_per_chunk=<n>  Videos in one chunk [default: 100].
    --num_workers=<n>       Parallel worker processes [default: 4].
    --frame_size=<px>       Shorter edge of the stored frames, -1 keeps the
                            size [default: -1].
    --frame_rate=<fps>      Frames per second sampled from each video
                            [default: 8].
    --shuffle               Shuffle the videos before writing.
    --extend                Accepted for compatibility: new chunks are always
                            added after existing ones.
$SHM_DIR_OPTION
    --label_name=<key>      Key under which the label is stored [default: label].
$FINAL_OPTIONS

Exit status: 0 all written, 3 some videos skipped (listed), 1 bad input,
2 usage error.
"""
from typing import Any, Dict, Optional, Sequence

from ..adapters import Custom20BNCsvWebmAdapter
from . import _common

__doc__ = _common.usage_text(__doc__)
PROG = "gulp_20bn_csv_webm"


def plan(args: Dict[str, Any]) -> _common.IngestJob:
    kwargs = dict(csv_file=args["<input_csv>"], **_common.video_adapter_kwargs(args))
    return _common.common_job(args, lambda: Custom20BNCsvWebmAdapter(**kwargs))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; ``argv`` without the program name (default: ``sys.argv``)."""
    return _common.run_command(PROG, __doc__, argv, plan)


if __name__ == "__main__":
    raise SystemExit(main())
