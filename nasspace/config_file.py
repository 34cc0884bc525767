"""``--config FILE``: a YAML or JSON file of option values, under the command-line flags, over the defaults.

Order of precedence: a flag given on the command line, then the file, then the command's default.
The file's keys are the command's option names (``budget``, ``search_metric`` or ``search-metric``)
and the extra keys a command declares with ``parser.set_defaults`` (e.g. ``options``, a mapping).
Values may be YAML/JSON scalars, lists (``budgets: [50, 100]``, ``seeds: 0-9``) or, for the
declared extra keys, mappings. The ``config.json`` a run writes into its folder is such a file:
passing it back reproduces the run (each command names the keys it writes as outputs, which the
file may carry and which are not options, in ``ignored``).

Both CLIs share this module (``nasspace`` is the package both may import).

Example:
    add_config_flag(search_parser, ignored=("resolved_options",))   # when the parser is built
    ...
    apply_config_to_command(top_parser, argv)   # before top_parser.parse_args(argv)
"""

from __future__ import annotations

import argparse
import json
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from nasspace.errors import NasSpaceError

__all__ = ["ConfigFileError", "add_config_flag", "read_config_file", "apply_config_file", "apply_config_to_command",
           "config_path_in", "namespace_config"]

CONFIG_FLAG = "--config"
_NOT_KEYS = {"help", "config", "handler", "command"}
Translate = Callable[[dict[str, Any]], dict[str, Any]]
# parser -> (keys its run folders' config.json holds as outputs, translation of such a file's keys)
_HOOKS: weakref.WeakKeyDictionary[argparse.ArgumentParser, tuple[Collection[str], Translate | None]] = \
    weakref.WeakKeyDictionary()


class ConfigFileError(NasSpaceError, ValueError):
    """A config file that cannot be read, or holds a key or value its command does not take."""


def add_config_flag(parser: argparse.ArgumentParser, *, ignored: Collection[str] = (),
                    translate: Translate | None = None) -> None:
    """Add ``--config FILE``; ``ignored`` and ``translate`` are `apply_config_file`'s for this parser.

    The overlay itself runs before parsing (`apply_config_to_command`).
    """
    _HOOKS[parser] = (tuple(ignored), translate)
    parser.add_argument(CONFIG_FLAG, metavar="FILE", default=None,
                        help="YAML or JSON file of option values (keys: the option names; flags given here win; "
                             "a run folder's config.json reproduces that run)")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping in a ``.json`` file, else a YAML file (YAML also reads JSON).

    Raises:
        ConfigFileError: the file is missing, does not parse, or does not hold a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigFileError(f"config {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError: one line, the parser's own words
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigFileError(f"config {path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {first}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigFileError(f"config {path}: expected a mapping of option names to values, got a {type(data).__name__}")
    return dict(data)


def config_path_in(argv: Sequence[str]) -> str | None:
    """The value of ``--config`` in ``argv`` (last one wins), or None."""
    found = None
    for i, item in enumerate(argv):
        if item == CONFIG_FLAG and i + 1 < len(argv):
            found = argv[i + 1]
        elif item.startswith(CONFIG_FLAG + "="):
            found = item.split("=", 1)[1]
    return found


def apply_config_to_command(parser: argparse.ArgumentParser, argv: Sequence[str]) -> dict[str, Any]:
    """`apply_config_file` on the subcommand ``argv`` names (its first word that is a command of ``parser``).

    Returns:
        The values applied (empty without ``--config``, or for a command that takes none).
    """
    if config_path_in(argv) is None:
        return {}
    commands: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            commands = dict(action.choices)
    name = next((item for item in argv if item in commands), None)
    if name is None or commands[name] not in _HOOKS:
        return {}  # argparse reports the missing command or the unknown --config flag
    return apply_config_file(commands[name], argv)


def apply_config_file(
    parser: argparse.ArgumentParser,
    argv: Sequence[str],
    *,
    ignored: Collection[str] | None = None,
    translate: Translate | None = None,
) -> dict[str, Any]:
    """Make the values of ``--config FILE`` (if ``argv`` has one) the defaults of ``parser``.

    Flags in ``argv`` still win when ``parser.parse_args(argv)`` runs next; a required flag the
    file provides is no longer required.

    Args:
        parser: the (sub)command's parser.
        argv: the arguments that will be parsed.
        ignored: keys the command writes into its config.json as outputs; dropped when read back
            (default: those given to `add_config_flag`).
        translate: maps the file's keys to option names first, for a config.json written in another
            shape (default: the one given to `add_config_flag`).

    Returns:
        The values applied, by option name (empty without ``--config``).

    Raises:
        ConfigFileError: unknown key (the message lists the allowed ones) or a value its option refuses.
    """
    path = config_path_in(argv)
    if path is None:
        return {}
    hook_ignored, hook_translate = _HOOKS.get(parser, ((), None))
    ignored = hook_ignored if ignored is None else ignored
    translate = hook_translate if translate is None else translate
    data = read_config_file(path)
    data = {str(k).replace("-", "_"): v for k, v in data.items()}
    if translate is not None:
        data = translate(data)
    actions = {a.dest: a for a in parser._actions if a.dest not in _NOT_KEYS and a.dest is not argparse.SUPPRESS}
    extras = {k for k in parser._defaults if k not in _NOT_KEYS and k not in actions}
    allowed = sorted(set(actions) | extras)
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key in ignored:
            continue
        if key in extras:
            values[key] = value
        elif key in actions:
            values[key] = _convert(actions[key], value, path)
        else:
            raise ConfigFileError(f"config {path}: unknown key {key!r}; allowed: {', '.join(allowed)}")
    parser.set_defaults(**values)
    for key in values:
        if key in actions:
            actions[key].required = False
    return values


def _flag(action: argparse.Action) -> str:
    return action.option_strings[-1] if action.option_strings else action.dest


def _convert(action: argparse.Action, value: Any, path: str) -> Any:
    """A file value as the flag would have parsed it (its ``type``, ``choices``, list for append flags)."""
    where = f"config {path}: {action.dest} ({_flag(action)})"
    if value is None:
        if action.required:
            raise ConfigFileError(f"{where} is required; got null")
        return None
    if isinstance(action, (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse.BooleanOptionalAction)):
        if not isinstance(value, bool):
            raise ConfigFileError(f"{where} takes true or false, got {value!r}")
        return value
    if isinstance(action, argparse._AppendAction):
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        return [_one(action, item, where) for item in items]
    if isinstance(value, (list, tuple)):  # comma-list flags: budgets: [50, 100] is --budgets 50,100
        value = ",".join(str(v) for v in value)
    return _one(action, value, where)


def _one(action: argparse.Action, value: Any, where: str) -> Any:
    if isinstance(value, (dict, list, tuple)):
        raise ConfigFileError(f"{where} takes a single value, got {type(value).__name__} {value!r}")
    if isinstance(value, bool) and action.type is not None:
        raise ConfigFileError(f"{where} takes a {getattr(action.type, '__name__', 'value')}, got {value!r}")
    converted = value
    if action.type is not None:
        text = value if isinstance(value, str) else str(value)
        try:
            converted = action.type(text)
        except (argparse.ArgumentTypeError, TypeError, ValueError) as exc:
            if action.type in (int, float):
                kind = "an integer" if action.type is int else "a number"
                raise ConfigFileError(f"{where} takes {kind}, got {value!r}") from None
            raise ConfigFileError(f"{where}: {exc}") from None
    elif not isinstance(value, str):
        converted = str(value)
    if action.choices is not None and converted not in action.choices:
        raise ConfigFileError(f"{where} = {value!r} is not one of {', '.join(map(str, action.choices))}")
    return converted


def namespace_config(args: argparse.Namespace, *, exclude: Collection[str] = ()) -> dict[str, Any]:
    """The parsed options of a command as plain JSON data: what it writes so that ``--config`` reruns it.

    Leaves out the parser's own keys (``config``, ``handler``, ``command``) and ``exclude``; tuples become lists.
    """
    skip = _NOT_KEYS | set(exclude)
    data = {k: v for k, v in vars(args).items() if k not in skip}
    return json.loads(json.dumps(data, default=str))
