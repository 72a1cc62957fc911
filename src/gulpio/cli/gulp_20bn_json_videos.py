"""gulp_20bn_json_videos: gulp a 20BN dataset given as a JSON list of videos.

Every entry of the JSON list (``.json`` or ``.json.gz``) is an object with an
"id" and a label; the video of id X is the one .mp4 file in
<videos_directory>/X/.  Frames are decoded in-process (no ffmpeg needed).

Usage:
    gulp_20bn_json_videos [options] <input_json> <videos_directory> <output_directory>
    gulp_20bn_json_videos -h | --help
    gulp_20bn_json_videos --version

Arguments:
    <input_json>          JSON list of {"id": ..., "<label_name>": ...} objects.
    <videos_directory>    Folder with one sub-folder per id holding its .mp4.
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
    --label_name=<key>      Key of the label in the JSON objects
                            [default: template].
$FINAL_OPTIONS

Exit status: 0 all written, 3 some videos skipped (listed), 1 bad input,
2 usage error.
"""
from typing import Any, Dict, Optional, Sequence

from ..adapters import Custom20BNJsonVideoAdapter
from . import _common

__doc__ = _common.usage_text(__doc__)
PROG = "gulp_20bn_json_videos"


def plan(args: Dict[str, Any]) -> _common.IngestJob:
    kwargs = dict(json_file=args["<input_json>"], **_common.video_adapter_kwargs(args))
    return _common.common_job(args, lambda: Custom20BNJsonVideoAdapter(**kwargs))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; ``argv`` without the program name (default: ``sys.argv``)."""
    return _common.run_command(PROG, __doc__, argv, plan)


if __name__ == "__main__":
    raise SystemExit(main())
