"""The ``crlso`` command line: one module per command, each with ``register(subparsers)``.

Command modules import heavy libraries (torch, PyG) inside their handlers, so ``crlso --help`` and
``crlso data`` stay fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from nasspace.config_file import ConfigFileError, apply_config_to_command
from nasspace.errors import NasSpaceError, broken_pipe_exit, describe_os_error

__all__ = ["main", "build_parser"]

# Module names under crlso.cli, in the order `crlso --help` lists them.
COMMAND_MODULES: tuple[str, ...] = ("data", "spaces", "methods", "lookup", "train", "search", "compare", "hybrid", "rank", "rank_bench", "oracle_bench", "finalize", "report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crlso", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.description = "Latent-space neural architecture search (CR-LSO) on tabular benchmarks and supernets."
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"crlso.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the command; expected errors print one line and return 2.

    Expected errors: `crlso.errors.CrlsoError` (bad options or files, an unusable run folder...), the genotype
    format's `nasspace.errors.NasSpaceError`, any other ``ValueError`` (darts_backend's errors, raised under the
    training and supernet oracles, are ``ValueError``s too), and operating-system errors (read-only folder, full disk, a file
    where a folder belongs: one line naming the path and the cause). A failed run of a comparison
    (`crlso.errors.TaskFailed`) exits 1.
    """
    from crlso.errors import CrlsoError, TaskFailed

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:  # --config FILE: its values become the command's defaults, under the flags given
        apply_config_to_command(parser, argv)
    except ConfigFileError as exc:
        command = next((item for item in argv if not item.startswith("-")), "")
        print(f"crlso {command}: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        _apply_device(args)
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # a reader that went away shows here, inside the handling below, not at exit
        return code
    except BrokenPipeError:  # the reader of stdout went away (`crlso data info | head`): stop quietly
        return broken_pipe_exit()
    except TaskFailed as exc:  # a run of a comparison failed; the others' folders are kept
        print(f"crlso {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except (CrlsoError, NasSpaceError, ValueError) as exc:
        print(f"crlso {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"crlso {args.command}: error: {describe_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"crlso {args.command}: interrupted", file=sys.stderr)
        return 130


def _apply_device(args: argparse.Namespace) -> None:
    """``--device``: checked before any work, then handed to the models (and to worker processes) through
    ``$CRLSO_DEVICE``."""
    device = getattr(args, "device", None)
    if device is None:
        return
    from crlso.models.config import DEVICE_ENV, resolve_device

    resolve_device(device)
    os.environ[DEVICE_ENV] = device


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
