"""Command-line flags derived from the config dataclasses, with tyro.

One flag per field, spelt like the README: the field name with dashes (`--batch-size`),
flat, without the section's prefix (`--channels`, not `--model.channels`), booleans as
`--skips/--no-skips`, tuples as one comma-separated value (`--channels 64,64,128,256,512`)
and `None` (or `none`) for an optional field left unset (`--tfds None`). The help of each flag is
the comment above its field (tyro reads it), or `field(metadata={"help": ...})`.

For commands whose flags set several configs at once (`python -m eval.inpaint`: one flag per
setting of every method), `leaves` walks the configs, nested option records included, to
their leaf fields, `flat_flags` makes one flag per leaf name, `given` says which flags the
command line spelt (so a preset or a method's own default applies to the others) and `nest`
turns the flat names back into the config's nested record (`{"solver": {"maxls": 20}}`).
`parse(..., one_line_errors=True)` reports a bad flag in one line, as argparse did.

Why tyro: it derives flags from kw_only, frozen dataclasses without any CLI annotation in
them (`OmitArgPrefixes` gives the flat names, a call-site `ConstructorRegistry` rule the
comma lists), and it builds the dataclasses through their constructors, so the configs'
own checks (`__post_init__`) report bad values as command-line errors. absl with
`ml_collections` config flags assigns attributes, which frozen dataclasses refuse, and
prefixes every flag with the config's name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import os
import re
import sys
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

import tyro
from tyro.constructors import ConstructorRegistry, PrimitiveConstructorSpec, PrimitiveTypeInfo

REGISTRY = ConstructorRegistry()
_UnionType = type(int | None)


@REGISTRY.primitive_rule
def comma_separated(info: PrimitiveTypeInfo) -> PrimitiveConstructorSpec | None:
    """`tuple[X, ...]` fields take one comma-separated value ("64,64,128"), as in the README."""
    if typing.get_origin(info.type) is not tuple:
        return None
    args = typing.get_args(info.type)
    if len(args) != 2 or args[1] is not Ellipsis or args[0] not in (int, float, str):
        return None
    item = args[0]

    def parse(strings: list[str]) -> tuple:
        return _comma_items(strings[0], item)

    return PrimitiveConstructorSpec(
        nargs=1,
        metavar=f"{item.__name__.upper()},...",
        instance_from_str=parse,
        is_instance=lambda value: isinstance(value, tuple),
        str_from_instance=lambda value: [",".join(map(str, value))],
    )


@REGISTRY.primitive_rule
def one_or_comma_separated(info: PrimitiveTypeInfo) -> PrimitiveConstructorSpec | None:
    """`X | tuple[X, ...]` fields (one number, or one per scale): "15" or "100,50,20"."""
    args = _union_members(info.type)
    item = next((a for a in args if a in (int, float)), None)
    if len(args) != 2 or item is None or tuple[item, ...] not in args:
        return None

    def parse(strings: list[str]):
        values = _comma_items(strings[0], item)
        return values[0] if len(values) == 1 else values

    return PrimitiveConstructorSpec(
        nargs=1,
        metavar=f"{item.__name__.upper()}[,...]",
        instance_from_str=parse,
        is_instance=lambda value: isinstance(value, (item, tuple)),
        str_from_instance=lambda value: [",".join(map(str, value)) if isinstance(value, tuple)
                                         else str(value)],
    )  # fmt: skip


@REGISTRY.primitive_rule
def none_or_value(info: PrimitiveTypeInfo) -> PrimitiveConstructorSpec | None:
    """`X | None` fields (X an int, float or str) take "none" or "None" for None."""
    args = _union_members(info.type)
    if len(args) != 2 or type(None) not in args:
        return None
    (item,) = (a for a in args if a is not type(None))
    if item not in (int, float, str):
        return None
    noun = {int: "a whole number", float: "a number", str: "a name"}[item]

    def parse(strings: list[str]):
        if strings[0].strip().lower() == "none":
            return None
        try:
            return item(strings[0])
        except ValueError:
            raise ValueError(f"takes {noun} or 'none', got {strings[0]!r}") from None

    return PrimitiveConstructorSpec(
        nargs=1,
        metavar=f"{item.__name__.upper()}|none",
        instance_from_str=parse,
        is_instance=lambda value: value is None or isinstance(value, item),
        str_from_instance=lambda value: [str(value)],
    )


def _union_members(kind) -> tuple:
    """The members of union type `kind` (`X | Y`, `Optional[X]`), else ()."""
    return typing.get_args(kind) if typing.get_origin(kind) in (typing.Union, _UnionType) else ()


def text_flag(convert: Callable[[str], object], metavar: str) -> PrimitiveConstructorSpec:
    """A flag of one word that `convert` turns into its value (a ValueError is the flag's
    error), for `Annotated[T, text_flag(...)]`: checks that belong to the command line."""
    return PrimitiveConstructorSpec(
        nargs=1,
        metavar=metavar,
        instance_from_str=lambda strings: convert(strings[0]),
        is_instance=lambda value: True,
        str_from_instance=lambda value: [
            ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        ],
    )


def _comma_items(text: str, item: type) -> tuple:
    parts = [part for part in text.replace(" ", "").split(",") if part]
    try:
        return tuple(item(part) for part in parts)
    except ValueError:
        raise ValueError(f"takes comma-separated {item.__name__}s, got {text!r}") from None


def parse(
    cls: type,
    args: Sequence[str],
    *,
    default=None,
    prog: str | None = None,
    description: str | None = None,
    known_only: bool = False,
    add_help: bool = True,
    one_line_errors: bool = False,
    flag_pairs: bool = True,
):
    """`cls` (a dataclass, maybe nested) from command-line `args`.

    Args:
      cls: the dataclass; nested dataclass fields become flag groups with unprefixed flags.
      args: the command line, without the program name.
      default: an instance of `cls` whose values are the flags' defaults (e.g. a preset);
        fields set to `tyro.MISSING` become required flags.
      prog, description: shown by `--help`.
      known_only: also return the arguments that are not flags of `cls` (nothing required).
      add_help: offer `-h/--help`.
      one_line_errors: report a bad flag or value as one line, "error: argument --limit:
        must be at least 1, got '0'" (`usage_error`), instead of tyro's box.
      flag_pairs: booleans as `--x, --no-x`; False: only the flag that changes the default.

    Returns:
      the instance, or (instance, the other arguments) with `known_only`.

    Raises:
      SystemExit: a bad flag or value (the message is printed), or `--help`.
    """
    markers = (tyro.conf.OmitArgPrefixes,) + (() if flag_pairs else (tyro.conf.FlagCreatePairsOff,))

    def cli():
        return tyro.cli(
            cls,
            args=list(args),
            default=default,
            prog=prog,
            description=description,
            return_unknown_args=known_only,
            add_help=add_help,
            config=markers,
            registry=REGISTRY,
        )

    if not one_line_errors or "-h" in args or "--help" in args:
        return cli()
    hook = _errors_hook()
    errors = io.StringIO()
    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100000"  # a box line per message line, for `box_message`
    try:
        with (
            contextlib.redirect_stderr(errors),
            hook(_one_line) if hook else contextlib.nullcontext(),
        ):
            parsed = cli()
    except SystemExit as stop:
        text = errors.getvalue().strip()
        if text.startswith("error: ") and len(text.splitlines()) == 1:
            print(text, file=sys.stderr)  # `usage_error`'s line, from the hook
            raise
        usage_error(box_message(text))
        raise AssertionError from stop  # not reached: usage_error exits
    finally:
        if columns is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = columns
    if parsed is None:  # a command with subcommands, none given
        usage_error(f"name a command (see {prog or 'the command'} --help)")
    return parsed


def usage_error(message: str) -> typing.NoReturn:
    """A bad flag or flag combination: one line on stderr, exit code 2 (as argparse's)."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    raise SystemExit(2)


def _errors_hook():
    """tyro's hook on parse errors (`tyro._errors.on_parse_error`, experimental in tyro 1.0),
    or None where this tyro has none: its own error boxes are shown then."""
    errors = getattr(tyro, "_errors", None)
    return getattr(errors, "on_parse_error", None)


def parse_command_line(cls, argv=None, *, prog: str, description: str = "", default=None):
    """`parse` as a command's `main(argv)` uses it: `argv` None is sys.argv[1:], and a bad
    flag or value is one line on stderr naming the flag, exit 2 (`one_line_errors`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return parse(
        cls, argv, prog=prog, description=description, default=default, one_line_errors=True
    )


def box_message(box: str) -> str:
    """The message of tyro's error box (drawn with Unicode or, off a terminal, ASCII lines),
    in one line, worded as argparse words it: the errors `_one_line` does not know (a
    subcommand missing, a field's own check in a subcommand)."""
    lines = box.strip().splitlines()
    title = re.sub(r"^[\s╭+─-]*|[\s╮+─-]*$", "", lines[0]) if lines else ""
    body = []
    for line in lines[1:]:
        inner = re.sub(r"^\s*[│|]\s?|\s*[│|]\s*$", "", line).strip()
        if set(inner) <= set("─-+╰╯ ") and body:  # a rule: the message ends
            break
        if inner and not set(inner) <= set("─-+╰╯ "):
            body.append(inner)
    if "Required options" in title:
        missing = [line.split()[0] for line in body if line.startswith("-")]
        return f"the following arguments are required: {', '.join(missing)}"
    text = " ".join(body) or title or "bad flags"
    text = re.sub(r"^Unrecognized options:", "unrecognized arguments:", text)
    found = re.match(r"Error parsing (\S+): (.*)", text)
    if found:
        text = found[2] if not found[1].startswith("-") else f"{found[1]}: {found[2]}"
    return re.sub(r"^(--[\w-]+): ", r"argument \1: ", text)


def _flag(argument) -> str:
    """The flag as a user spells it (a positional of a subcommand without tyro's inner prefix)."""
    return "/".join(name.rpartition(".")[2] if name.startswith("__tyro") else name
                    for name in argument.lowered.name_or_flags)  # fmt: skip


def _one_line(event) -> None:
    """A tyro parse error as argparse's one line; events it does not know keep tyro's box."""
    name = type(event).__name__
    if name == "InstantiationFailure" and event.argument is not None:
        usage_error(f"argument {_flag(event.argument)}: {event.message}")
    if name == "InvalidChoice":
        usage_error(f"argument {_flag(event.argument)}: invalid choice {event.value!r} "
                    f"(choose from {', '.join(event.choices)})")  # fmt: skip
    if name == "BadValue":
        usage_error(f"argument {_flag(event.argument)}: expected a value")
    if name == "UnrecognizedArgs":
        usage_error(f"unrecognized arguments: {' '.join(event.tokens)}")
    if name == "MissingArgs":
        names = ", ".join(_flag(a.arg) for a in event.missing_arguments)
        usage_error(f"the following arguments are required: {names}")


# Flags from several configs at once.


@dataclasses.dataclass(frozen=True)
class Leaf:
    """One setting of a config tree: a field that is not itself a dataclass."""

    name: str  # the field's name, unique in the tree: the flag is `--name-with-dashes`
    path: tuple[str, ...]  # attribute path from the top config, e.g. ("solver", "maxls")
    type: object  # the field's annotation (resolved)
    help: str  # `field(metadata={"help": ...})`, else the comment above the field


def leaves(cls: type, prefix: tuple[str, ...] = ()) -> Iterator[Leaf]:
    """Every leaf setting of config dataclass `cls`, nested dataclass fields walked."""
    hints = typing.get_type_hints(cls, include_extras=True)
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        kind = hints[field.name]
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            yield from leaves(kind, (*prefix, field.name))
        else:
            help_text = field.metadata.get("help") or field_comment(cls, field.name)
            yield Leaf(field.name, (*prefix, field.name), kind, help_text)


def field_comment(cls: type, name: str) -> str:
    """The `#` comment lines right above field `name` in the body of the first class of
    `cls`'s bases (most basic first) that declares it with one, joined; "" if none."""
    for klass in reversed(cls.__mro__):
        if name not in vars(klass).get("__annotations__", {}):
            continue
        try:
            lines = inspect.getsource(klass).splitlines()
        except (OSError, TypeError):
            continue
        declared = re.compile(rf"^\s+{re.escape(name)}\s*:")
        at = next((i for i, line in enumerate(lines) if declared.match(line)), None)
        comment = []
        while at and lines[at - 1].strip().startswith("#"):
            at -= 1
            comment.insert(0, lines[at].strip().lstrip("#").strip())
        if comment:
            return " ".join(comment)
    return ""


def flat_flags(
    name: str,
    settings: Mapping[str, Leaf],
    defaults: Mapping[str, object],
    *,
    hints: Mapping[str, str] = {},
    names: Mapping[str, str] = {},
    aliases: Mapping[str, tuple[str, ...]] = {},
) -> type:
    """A frozen dataclass with one field per setting (`leaves`, by leaf name): the leaf's
    type, `defaults[name]` and the leaf's help; `hints` replaces a flag's "(default: ...)",
    `names` its flag name (without dashes), `aliases` adds spellings ("--old-name")."""
    fields = []
    for key, leaf in settings.items():
        options = tyro.conf.arg(
            help=leaf.help or None,
            help_behavior_hint=hints.get(key),
            name=names.get(key),
            aliases=aliases.get(key),
        )
        kind = typing.Annotated[leaf.type, options]
        fields.append((key, kind, dataclasses.field(default=defaults[key])))
    return dataclasses.make_dataclass(name, fields, frozen=True, kw_only=True)


def spellings(cls: type) -> dict[str, str]:
    """Every spelling of the flags of dataclass `cls` (nested dataclasses walked) -> the
    field's name: `--name-with-dashes`, a `tyro.conf.arg` name and aliases, `--no-name`
    for booleans."""
    found = {}
    hints = typing.get_type_hints(cls, include_extras=True)
    for field in dataclasses.fields(cls):
        kind = hints[field.name]
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            found |= spellings(kind)
            continue
        flag = field.name.replace("_", "-")
        for meta in getattr(kind, "__metadata__", ()):
            flag = getattr(meta, "name", None) or flag
            found |= dict.fromkeys(getattr(meta, "aliases", None) or (), field.name)
        found[f"--{flag}"] = field.name
        if typing.get_args(kind)[:1] == (bool,) or kind is bool:
            found[f"--no-{flag}"] = field.name
    return found


def given(cls: type, args: Iterable[str]) -> set[str]:
    """The fields of flag dataclass `cls` that command line `args` spells (`--x V`,
    `--x=V`), so that only those change a preset or a method's own default."""
    known = spellings(cls)
    return {known[arg.partition("=")[0]] for arg in args if arg.partition("=")[0] in known}


def nest(cls: type, values: Mapping[str, object]) -> dict:
    """Flat leaf settings of config `cls` (leaf name -> value) as its constructor's keyword
    arguments, a nested record as a dict: {"maxls": 20} -> {"solver": {"maxls": 20}}."""
    paths = {}
    for leaf in leaves(cls):
        if paths.setdefault(leaf.name, leaf.path) != leaf.path:
            raise ValueError(f"{cls.__name__}: two settings named {leaf.name!r}, "
                             f"{'.'.join(paths[leaf.name])} and {'.'.join(leaf.path)}")  # fmt: skip
    nested: dict = {}
    for key, value in values.items():
        *outer, last = paths[key]
        record = nested
        for part in outer:
            record = record.setdefault(part, {})
        record[last] = value
    return nested
