"""Check a gulp directory for consistency.

Usage:
    gulp_sanity_check [--deep] <gulp_directory>
    gulp_sanity_check (-h | --help)
    gulp_sanity_check --version

Arguments:
    gulp_directory   The folder holding data_N.gulp and meta_N.gmeta files.

Options:
    --deep          Also decode every frame (slow).
    -h --help       Show this help.
    --version       Show the version.

Prints each check's name and its failures or "passed", then a summary.
Exit status: 0 when every check passes, 1 when any fails, 2 for a usage
error or a directory that does not exist or holds no gulp chunk files.
"""
import sys
from typing import List, Optional

from ..errors import GulpIOEmptyFolder
from ..sanity_utils import open_for_checking, run_checks
from ._common import parse_args

PROG = "gulp_sanity_check"


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(__doc__, argv, PROG)
    if isinstance(args, int):  # help, version or a usage error
        return args
    folder = args["<gulp_directory>"]
    try:
        directory = open_for_checking(folder)
    except GulpIOEmptyFolder as exc:
        print(f"gulp_sanity_check: {exc}", file=sys.stderr)
        return 2
    results = run_checks(directory, deep=args["--deep"])
    failed = 0
    for name, failures in results:
        if failures:
            failed += 1
            print(f"{name}: FAILED ({len(failures)})")
            for failure in failures:
                print(f"    {failure}")
        else:
            print(f"{name}: passed")
    print(f"{folder}: {directory.num_chunks} chunks, "
          f"{len(results) - failed} of {len(results)} checks passed"
          + (f", {failed} failed" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
