"""gulp_register_adapter: write a command-line script for an adapter class.

Imports <adapter_file> (a module name such as gulpio.adapters, or the path of
a .py file), reads the __init__ signature of <class_name> and writes an
executable docopt script named after the class in snake_case (MyAdapter ->
my_adapter) into the current directory.  In that script, parameters without
a default are positional arguments, parameters with a default are --options
with that default (converted back to its type: numbers arrive as numbers, a
False default becomes a flag, a list default is comma-separated), plus the
options --videos_per_chunk, --num_workers and --remove_duplicates and an
<output_folder> argument
unless the adapter takes one; it builds the adapter and runs GulpIngestor.

Usage:
    gulp_register_adapter [--verbose] <adapter_file> <class_name>
    gulp_register_adapter -h | --help
    gulp_register_adapter --version

Options:
    --verbose     Show tracebacks.
    -h --help     Show this text.
    --version     Show the version.

Exit status: 0 script written, 1 module or class not usable, 2 usage error.
"""
import os
import re
import sys
from typing import List, Optional, Sequence

from ..errors import GulpError
from . import _common

PROG = "gulp_register_adapter"

SCRIPT_TEMPLATE = '''#!{python}
"""{prog}: gulp a dataset with {module}.{cls}.

Written by gulp_register_adapter; the adapter's parameters are the arguments.

Usage:
    {prog} [options]{positionals}
    {prog} -h | --help
    {prog} --version

Options:
{options}
    --videos_per_chunk=<n>  Items in one chunk [default: 100].
    --num_workers=<n>       Parallel worker processes [default: 4].
    --remove_duplicates     Skip ids repeated in the input or already in the
                            output folder (use it to resume a run).
    --verbose               Log everything, with tracebacks.
    -h --help               Show this text.
    --version               Show the version.

Exit status: 0 all written, 3 some items skipped (listed), 1 bad input,
2 usage error.
"""
import sys

from gulpio.cli._common import run_generated

MODULE = {module!r}
MODULE_PATH = {module_path!r}
CLASS = {cls!r}
PARAMS = {params!r}

if __name__ == "__main__":
    sys.exit(run_generated({prog!r}, __doc__, None, MODULE, CLASS, PARAMS, MODULE_PATH))
'''


def snake_case(name: str) -> str:
    """``MyAdapter`` -> ``my_adapter``; ``HTTPVideoAdapter`` -> ``http_video_adapter``."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return name.replace("-", "_").lower()


def _option_lines(params: Sequence[_common.ParamSpec]) -> List[str]:
    lines = []
    for name, kind, default, type_name in params:
        if kind == _common.PARAM_REQUIRED:
            continue
        if kind == _common.PARAM_FLAG:
            lines.append(f"    --{name}  Set {name} to True.")
            continue
        text = _common.default_text(default, type_name)
        default_part = f" [default: {text}]" if text != "" else " (default: empty)"
        lines.append(f"    --{name}=<{name}>  {type_name} value of {name}{default_part}.")
    return lines


def render_script(prog: str, module: str, cls: type, module_path: str = "") -> str:
    """The text of the generated script for ``cls``."""
    params = _common.describe_parameters(cls)
    positionals = "".join(f" <{name}>" for name, kind, *_ in params
                          if kind == _common.PARAM_REQUIRED)
    if not any(name == "output_folder" for name, *_ in params):
        positionals += " <output_folder>"
    return SCRIPT_TEMPLATE.format(python=sys.executable, prog=prog, module=module,
                                  module_path=module_path, cls=cls.__name__,
                                  positionals=positionals,
                                  options="\n".join(_option_lines(params)),
                                  params=[tuple(p) for p in params])


def register(adapter_file: str, class_name: str, directory: str = ".") -> str:
    """Write the script for ``class_name`` of ``adapter_file``; returns its path.

    Raises
    ------
    gulpio.errors.InvalidInputError
        The module cannot be imported or has no such class.
    TypeError
        The class is not an adapter or its signature cannot become a CLI.
    """
    module_path = ""
    module = adapter_file
    if adapter_file.endswith(".py") or os.sep in adapter_file:
        if not os.path.isfile(adapter_file):
            from ..errors import InvalidInputError
            raise InvalidInputError(f"adapter file {adapter_file} does not exist")
        module_path = os.path.abspath(adapter_file)
        module = os.path.splitext(os.path.basename(adapter_file))[0]
    cls = _common.load_class(module, class_name, module_path)
    if not (callable(getattr(cls, "iter_data", None)) and callable(getattr(cls, "__len__", None))):
        raise TypeError(f"{module}.{class_name} is not an adapter: it needs iter_data() and __len__()")
    prog = snake_case(class_name)
    path = os.path.join(directory, prog)
    with open(path, "w", encoding="utf-8") as fp:
        fp.write(render_script(prog, module, cls, module_path))
    os.chmod(path, 0o755)
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command; ``argv`` without the program name (default: ``sys.argv``)."""
    args = _common.parse_args(__doc__, argv, PROG)
    if isinstance(args, int):
        return args
    verbose = bool(args["--verbose"])
    _common.setup_logging(verbose)
    try:
        path = register(args["<adapter_file>"], args["<class_name>"])
    except (GulpError, TypeError, OSError, ValueError) as exc:
        return _common._fail(PROG, str(exc), verbose, _common.EXIT_BAD_INPUT)
    print(f"wrote {path}; run it with: ./{os.path.basename(path)} --help")
    return _common.EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
