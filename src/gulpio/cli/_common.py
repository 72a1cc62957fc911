"""What every ingestion command shares: parsing, converters, logging and the
"build the adapter, run the ingestor, print the report" step.

Exit statuses (documented in ``docs/cli.rst``):

* ``0`` every item was written;
* ``1`` bad input found before anything was written (missing or malformed
  input file, missing videos directory, unwritable output folder), or the
  run failed;
* ``2`` usage error (unknown option, bad option value);
* ``3`` the run finished but some items were skipped (listed with reasons);
* ``130`` interrupted with Ctrl-C.
"""
import inspect
import logging
import os
import re
import string
import sys
import tempfile
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import docopt

from .. import __version__
from ..errors import GulpError, InvalidInputError
from ..fileio import GulpIngestor, IngestReport

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2
EXIT_SKIPPED = 3
EXIT_INTERRUPTED = 130

Args = Mapping[str, Any]


class UsageError(ValueError):
    """A command-line value that cannot be used (exit status 2)."""


@dataclass
class IngestJob:
    """What an ingestion command will do, as read from its arguments.

    Attributes
    ----------
    make_adapter : callable
        Builds the adapter; may raise ``GulpError``/``OSError``/``ValueError``
        for bad input (exit status 1).
    output_folder : str
    items_per_chunk : int
    num_workers : int
    drop_duplicates : bool
        Drop ids already stored (and repeated ids) after building the adapter,
        for adapters whose constructor has no ``remove_duplicate_ids``.
    """

    make_adapter: Callable[[], Any]
    output_folder: str
    items_per_chunk: int
    num_workers: int
    drop_duplicates: bool = False


# ---------------------------------------------------------------- parsing
def parse_args(doc: str, argv: Optional[Sequence[str]], prog: str) -> Union[Dict[str, Any], int]:
    """Parse ``argv`` with the usage text ``doc``.

    Returns
    -------
    dict or int
        The arguments, or an exit status when nothing more is to be done:
        ``0`` after ``-h``/``--version`` printed their text, ``2`` after a
        usage error (the usage is printed to stderr).
    """
    argv = list(argv) if argv is not None else sys.argv[1:]
    try:
        return dict(docopt.docopt(doc, argv=argv, version=f"{prog} {__version__}"))
    except docopt.DocoptExit:
        print(f"{prog}: error: {usage_error_reason(doc, argv)}\n"
              f"Try '{prog} --help' for more information.", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # -h / --version: docopt printed and exits
        return exc.code if isinstance(exc.code, int) else EXIT_OK


_OPTION_RE = re.compile(r"(?<![\w<-])(--?[A-Za-z][\w-]*)(=<[^>]*>| <[^>]*>)?")


def usage_error_reason(doc: str, argv: Sequence[str]) -> str:
    """One line saying why ``argv`` does not fit the usage text ``doc``
    (docopt itself only says that something is left unmatched)."""
    usage, _, options_text = doc.partition("Options:")
    takes_value = {}
    for name, value in _OPTION_RE.findall(options_text or usage):
        takes_value[name] = takes_value.get(name, False) or bool(value)
    patterns = [line for line in usage.partition("Usage:")[2].splitlines() if "<" in line]
    positionals = re.findall(r"<[\w-]+>", patterns[0]) if patterns else []
    given = []
    args = iter(argv)
    for arg in args:
        if arg == "--":
            given.extend(args)
            break
        if not arg.startswith("-") or arg == "-":
            given.append(arg)
            continue
        name = arg.split("=", 1)[0]
        # docopt takes any unambiguous prefix of a long option
        matches = [known for known in takes_value
                   if known == name or (name.startswith("--") and known.startswith(name))]
        if not matches:
            return f"unknown option {name}"
        if takes_value[matches[0]] and "=" not in arg and next(args, None) is None:
            return f"option {matches[0]} needs a value"
    if len(given) < len(positionals):
        return f"missing argument {positionals[len(given)]}"
    if len(given) > len(positionals):
        return f"unexpected argument {given[len(positionals)]!r}"
    return "the arguments do not fit the usage (see --help)"


class _StderrHandler(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is at the time."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr: warnings and up, everything with ``verbose``."""
    level = logging.DEBUG if verbose else logging.WARNING
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_gulpio_cli", False):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler._gulpio_cli = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


# ------------------------------------------------------------- converters
def to_int(value: Any, name: str) -> int:
    """``value`` as an int, or :class:`UsageError` naming ``name``."""
    if isinstance(value, bool):
        raise UsageError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise UsageError(f"{name} must be an integer, got {value!r}") from None


def to_positive_int(value: Any, name: str) -> int:
    """``value`` as an int >= 1, or :class:`UsageError`."""
    number = to_int(value, name)
    if number < 1:
        raise UsageError(f"{name} must be a positive integer, got {value!r}")
    return number


def to_size(value: Any, name: str) -> int:
    """A shorter-edge size: a positive int, or ``-1`` (keep the size)."""
    number = to_int(value, name)
    if number < 1 and number != -1:
        raise UsageError(f"{name} must be a positive number of pixels or -1, got {value!r}")
    return number


def to_number(value: Any, name: str) -> Union[int, float]:
    """``value`` as an int when it is integral, else a float."""
    if isinstance(value, bool):
        raise UsageError(f"{name} must be a number, got {value!r}")
    if isinstance(value, (int, float)):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        raise UsageError(f"{name} must be a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise UsageError(f"{name} must be a finite number, got {value!r}")
    return int(number) if number.is_integer() else number


def to_frame_rate(value: Any, name: str = "--frame_rate") -> Union[int, float]:
    """Frames per second: a positive number (``<= 0`` keeps every frame)."""
    return to_number(value, name)


def to_bool(value: Any, name: str) -> bool:
    """``true/false/yes/no/1/0`` (any case) as a bool."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "on"):
        return True
    if text in ("0", "false", "no", "n", "off"):
        return False
    raise UsageError(f"{name} must be true or false, got {value!r}")


# --------------------------------------------------------------- running
def check_output_folder(path: str) -> None:
    """Make sure ``path`` is (or can become) a writable folder.

    Raises
    ------
    OSError
        With a message naming the folder.
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADirectoryError(f"output folder {path} exists and is not a folder")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".gulpio-write-test-"):
            pass
    except OSError as exc:
        raise OSError(f"output folder {path} is not writable: {exc.strerror or exc}") from exc


def format_report(report: IngestReport, output_folder: str) -> str:
    """The closing summary: counts, then each skipped item with its reason."""
    written = len(report.written)
    # A chunk whose items were all skipped leaves no files: not counted.
    chunks = sum(1 for chunk in report.chunks if chunk.written)
    lines = [f"wrote {written} item{'s' * (written != 1)} in {chunks} "
             f"chunk{'s' * (chunks != 1)} to {output_folder}"]
    if report.skipped:
        lines.append(f"skipped {len(report.skipped)} item{'s' * (len(report.skipped) != 1)}:")
        lines.extend(f"  {id_}: {reason}" for id_, reason in report.skipped)
    return "\n".join(lines)


def _fail(prog: str, message: str, verbose: bool, status: int) -> int:
    if verbose:
        traceback.print_exc()
    print(f"{prog}: error: {message}", file=sys.stderr)
    return status


def run_command(prog: str, doc: str, argv: Optional[Sequence[str]],
                plan: Callable[[Dict[str, Any]], IngestJob]) -> int:
    """Parse ``argv``, plan the job, build the adapter, ingest and report.

    Parameters
    ----------
    prog : str
        The command's name, for messages and ``--version``.
    doc : str
        The docopt usage text (the command module's docstring).
    argv : sequence of str, optional
        Arguments without the program name; ``None`` reads ``sys.argv``.
    plan : callable
        Turns the parsed arguments into an :class:`IngestJob`; raises
        :class:`UsageError` for a bad value.

    Returns
    -------
    int
        The exit status (see the module docstring).
    """
    args = parse_args(doc, argv, prog)
    if isinstance(args, int):
        return args
    verbose = bool(args.get("--verbose"))
    setup_logging(verbose)
    try:
        job = plan(args)
    except UsageError as exc:
        print(f"{prog}: error: {exc}\nTry '{prog} --help' for more information.", file=sys.stderr)
        return EXIT_USAGE
    try:
        adapter = job.make_adapter()
        check_output_folder(job.output_folder)
        if job.drop_duplicates:
            drop = getattr(adapter, "drop_duplicate_ids", None)
            if drop is None:
                raise InvalidInputError(
                    f"--remove_duplicates: {type(adapter).__name__} has no "
                    "drop_duplicate_ids() (ItemListAdapter provides it)")
            dropped = drop(job.output_folder)
            if dropped:
                print(f"{prog}: {dropped} item(s) already in {job.output_folder} "
                      "or repeated in the input: not written again", file=sys.stderr)
    except (GulpError, OSError, ValueError) as exc:
        return _fail(prog, str(exc), verbose, EXIT_BAD_INPUT)
    try:
        report = GulpIngestor(adapter, job.output_folder, job.items_per_chunk, job.num_workers)()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; complete chunks are kept, run again with "
              "--remove_duplicates to finish", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # report one line; the traceback with --verbose
        return _fail(prog, f"ingestion failed: {type(exc).__name__}: {exc}", verbose, EXIT_BAD_INPUT)
    print(format_report(report, job.output_folder))
    return EXIT_SKIPPED if report.skipped else EXIT_OK


# ------------------------------------------------- shared usage text
# docopt reads a command's options from its usage text, so the ingestion
# commands write ``$NAME`` in their docstrings for the lines they share.
_USAGE_PIECES = {
    "OUTPUT_DIRECTORY":
        "    <output_directory>    Gulp directory to write (created if needed; chunks\n"
        "                          already there are kept and new ones added after them).",
    "SHM_DIR_OPTION":
        "    --shm_dir=<dir>         Temporary folder for the ffmpeg fallback\n"
        "                            [default: /dev/shm].",
    "FINAL_OPTIONS":
        "    --remove_duplicates     Skip ids repeated in the input or already in\n"
        "                            <output_directory> (use it to resume a run).\n"
        "    --verbose               Log everything, with tracebacks.\n"
        "    -h --help               Show this text.\n"
        "    --version               Show the version.",
}


def usage_text(doc: str) -> str:
    """A command's docstring with the shared ``$NAME`` lines filled in."""
    return string.Template(doc).substitute(_USAGE_PIECES)


# ------------------------------------------------- shared option handling
def common_job(args: Args, make_adapter: Callable[[], Any], output_key: str = "<output_directory>",
               per_chunk_key: str = "--videos_per_chunk", drop_duplicates: bool = False) -> IngestJob:
    """An :class:`IngestJob` from the options every command has."""
    return IngestJob(make_adapter=make_adapter,
                     output_folder=args[output_key],
                     items_per_chunk=to_positive_int(args[per_chunk_key], per_chunk_key),
                     num_workers=to_positive_int(args["--num_workers"], "--num_workers"),
                     drop_duplicates=drop_duplicates)


def video_adapter_kwargs(args: Args) -> Dict[str, Any]:
    """Keyword arguments of the 20BN video adapters from the options that
    gulp_20bn_json_videos and gulp_20bn_csv_webm share."""
    return dict(folder=args["<videos_directory>"], output_folder=args["<output_directory>"],
                shuffle=args["--shuffle"],
                frame_size=to_size(args["--frame_size"], "--frame_size"),
                frame_rate=to_frame_rate(args["--frame_rate"]),
                shm_dir_path=args["--shm_dir"], label_name=args["--label_name"],
                remove_duplicate_ids=args["--remove_duplicates"])


# ------------------------------------------- scripts of gulp_register_adapter
PARAM_REQUIRED = "required"
PARAM_OPTION = "option"
PARAM_FLAG = "flag"

# (name, kind, default, type) as written into generated scripts
ParamSpec = Tuple[str, str, Any, str]

RESERVED_OPTIONS = ("videos_per_chunk", "num_workers", "remove_duplicates", "verbose",
                    "help", "version")

# Annotations a generated script converts to; the names cover modules that use
# ``from __future__ import annotations`` (every annotation is then a string).
_SIMPLE_ANNOTATIONS = ((int, "int"), (float, "float"), (str, "str"), (bool, "bool"))


def annotation_type(annotation: Any) -> Optional[str]:
    """``'int'``, ``'float'``, ``'str'`` or ``'bool'`` for an annotation that
    is one of those types (or its name as a string); ``None`` for anything
    else (no annotation, ``Optional[int]``, ``List[str]``, ...)."""
    if isinstance(annotation, str):
        name = annotation.strip()
        return name if name in ("int", "float", "str", "bool") else None
    for type_, name in _SIMPLE_ANNOTATIONS:
        if annotation is type_:
            return name
    return None


def _fits_annotation(default: Any, type_name: str) -> bool:
    """Whether a default value can be given as ``type_name`` on a command line
    (an int default of a ``float`` parameter can; a list or ``None`` cannot)."""
    if isinstance(default, bool):
        return type_name == "bool"
    if type_name == "float":
        return isinstance(default, (int, float))
    if type_name == "int":
        return isinstance(default, int)
    if type_name == "str":
        return isinstance(default, (str, int, float))
    return False


def describe_parameters(cls: type) -> List[ParamSpec]:
    """The ``__init__`` parameters of an adapter class, for a generated CLI.

    Returns
    -------
    list of tuple
        ``(name, kind, default, type_name)``: ``kind`` is ``'required'``
        (no default: a positional argument), ``'flag'`` (a ``False`` default:
        an option without a value) or ``'option'``; ``type_name`` says how to
        convert the command-line text (``'int'``, ``'float'``, ``'bool'``,
        ``'list'``, ``'none_or_str'`` or ``'str'``): the annotation when it is
        ``int``, ``float``, ``str`` or ``bool`` (or that name as a string) and
        the default fits it (``frame_rate: float = 8`` is ``'float'``), else
        the default's type.

    Raises
    ------
    TypeError
        ``*args``/``**kwargs`` or a parameter name the script itself uses.
    """
    params: List[ParamSpec] = []
    signature = inspect.signature(cls.__init__)
    for index, param in enumerate(signature.parameters.values()):
        if index == 0 and param.name == "self":
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"{cls.__name__}.__init__ takes *{param.name}; a command line needs "
                            "named parameters")
        if param.name in RESERVED_OPTIONS:
            raise TypeError(f"{cls.__name__}.__init__ parameter {param.name!r} clashes with an "
                            "option of the generated script")
        declared = annotation_type(param.annotation)
        if param.default is param.empty:
            params.append((param.name, PARAM_REQUIRED, None, declared or "str"))
            continue
        default = param.default
        if declared is not None and _fits_annotation(default, declared):
            if declared == "bool":
                kind = PARAM_FLAG if default is False else PARAM_OPTION
            else:
                kind = PARAM_OPTION
                default = str(default) if declared == "str" else default
            params.append((param.name, kind, default, declared))
            continue
        if declared is not None:
            logger.debug("%s.__init__ parameter %r: default %r is not a %s; typed by the "
                         "default instead", cls.__name__, param.name, default, declared)
        if isinstance(default, bool):
            kind, type_name = (PARAM_FLAG, "bool") if default is False else (PARAM_OPTION, "bool")
        elif isinstance(default, int):
            kind, type_name = PARAM_OPTION, "int"
        elif isinstance(default, float):
            kind, type_name = PARAM_OPTION, "float"
        elif isinstance(default, (list, tuple)):
            kind, type_name, default = PARAM_OPTION, "list", list(default)
        elif default is None:
            kind, type_name = PARAM_OPTION, "none_or_str"
        else:
            kind, type_name, default = PARAM_OPTION, "str", str(default)
        params.append((param.name, kind, default, type_name))
    return params


def convert_value(text: Any, type_name: str, name: str) -> Any:
    """Convert a command-line value of a generated script to the parameter's type."""
    if type_name == "int":
        return to_int(text, name)
    if type_name == "float":
        number = to_number(text, name)
        return float(number)
    if type_name == "bool":
        return to_bool(text, name)
    if type_name == "list":
        if isinstance(text, (list, tuple)):
            return list(text)
        return [part.strip() for part in str(text).split(",") if part.strip()]
    if type_name == "none_or_str":
        return None if text is None or str(text) in ("", "None") else str(text)
    return text


def default_text(default: Any, type_name: str) -> str:
    """How a default is shown in a generated usage text (``[default: ...]``)."""
    if type_name == "list":
        return ",".join(str(v) for v in default)
    if type_name == "none_or_str":
        return "None"
    return str(default)


def run_generated(prog: str, doc: str, argv: Optional[Sequence[str]], module_name: str,
                  class_name: str, params: Sequence[ParamSpec], module_path: str = "") -> int:
    """Entry point of the scripts written by ``gulp_register_adapter``.

    Parameters
    ----------
    prog, doc, argv
        As for :func:`run_command`.
    module_name, class_name : str
        Where the adapter class lives.
    params : sequence of tuple
        :func:`describe_parameters` of the class.
    module_path : str
        The ``.py`` file of the module (when it was registered by file path):
        its folder is put on ``sys.path`` and ``PYTHONPATH`` first.
    """
    takes_output = any(name == "output_folder" for name, *_ in params)

    def plan(args: Dict[str, Any]) -> IngestJob:
        kwargs: Dict[str, Any] = {}
        for name, kind, default, type_name in params:
            if kind == PARAM_REQUIRED:
                kwargs[name] = convert_value(args[f"<{name}>"], type_name, f"<{name}>")
            elif kind == PARAM_FLAG:
                kwargs[name] = bool(args[f"--{name}"])
            elif args[f"--{name}"] is None:  # a default docopt cannot show (empty text, None)
                kwargs[name] = default
            else:
                kwargs[name] = convert_value(args[f"--{name}"], type_name, f"--{name}")
        output = kwargs["output_folder"] if takes_output else args["<output_folder>"]

        def make_adapter() -> Any:
            cls = load_class(module_name, class_name, module_path)
            return cls(**kwargs)

        return IngestJob(make_adapter, output,
                         to_positive_int(args["--videos_per_chunk"], "--videos_per_chunk"),
                         to_positive_int(args["--num_workers"], "--num_workers"),
                         # scripts written before the option existed lack it
                         drop_duplicates=bool(args.get("--remove_duplicates")))

    return run_command(prog, doc, argv, plan)


def load_class(module_name: str, class_name: str, module_path: str = "") -> type:
    """Import ``module_name`` (or load ``module_path``) and return its class.

    Raises
    ------
    gulpio.errors.InvalidInputError
        The module cannot be imported or has no such class.
    """
    import importlib

    try:
        if module_path:
            # Import it by name from its folder, so that worker processes
            # (which unpickle the adapter by module name) find it too.
            folder = os.path.dirname(os.path.abspath(module_path))
            if folder not in sys.path:
                sys.path.insert(0, folder)
            paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
            if folder not in paths:
                os.environ["PYTHONPATH"] = os.pathsep.join([folder] + [p for p in paths if p])
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInputError(f"cannot import adapter module {module_path or module_name}: "
                                f"{exc}") from exc
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise InvalidInputError(f"module {module_name} has no class {class_name}")
    return cls
