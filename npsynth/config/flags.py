"""Command-line flags derived from the config dataclasses, with tyro.

One flag per field, spelt like the README: the field name with dashes (`--batch-size`),
flat, without the section's prefix (`--channels`, not `--model.channels`), booleans as
`--skips/--no-skips`, tuples as one comma-separated value (`--channels 64,64,128,256,512`)
and `None` for an optional field left unset (`--tfds None`). The help of each flag is the
comment above its field (tyro reads it), or `field(metadata={"help": ...})`.

Why tyro: it derives flags from kw_only, frozen dataclasses without any CLI annotation in
them (`OmitArgPrefixes` gives the flat names, a call-site `ConstructorRegistry` rule the
comma lists), and it builds the dataclasses through their constructors, so the configs'
own checks (`__post_init__`) report bad values as command-line errors. absl with
`ml_collections` config flags assigns attributes, which frozen dataclasses refuse, and
prefixes every flag with the config's name.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence

import tyro
from tyro.constructors import ConstructorRegistry, PrimitiveConstructorSpec, PrimitiveTypeInfo

REGISTRY = ConstructorRegistry()


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
        parts = [part for part in strings[0].replace(" ", "").split(",") if part]
        try:
            return tuple(item(part) for part in parts)
        except ValueError:
            raise ValueError(
                f"takes comma-separated {item.__name__}s, got {strings[0]!r}"
            ) from None

    return PrimitiveConstructorSpec(
        nargs=1,
        metavar=f"{item.__name__.upper()},...",
        instance_from_str=parse,
        is_instance=lambda value: isinstance(value, tuple),
        str_from_instance=lambda value: [",".join(map(str, value))],
    )


def parse(
    cls: type,
    args: Sequence[str],
    *,
    default=None,
    prog: str | None = None,
    description: str | None = None,
    known_only: bool = False,
    add_help: bool = True,
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

    Returns:
      the instance, or (instance, the other arguments) with `known_only`.

    Raises:
      SystemExit: a bad flag or value (the message is printed), or `--help`.
    """
    return tyro.cli(
        cls,
        args=list(args),
        default=default,
        prog=prog,
        description=description,
        return_unknown_args=known_only,
        add_help=add_help,
        config=(tyro.conf.OmitArgPrefixes,),
        registry=REGISTRY,
    )
