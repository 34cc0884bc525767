"""The registry of space adapters: space name -> `SpaceAdapter`. It imports no adapter.

Adapters register themselves (`register_adapter`) when their module is imported; ``crlso.models.spaces``
imports the built-in ones. A space registered in `nasspace` with no adapter of its own gets the generic one
when its genotypes are rows of choices (`crlso.models.spaces.adapter.generic_adapter`), so a new benchmark
family or a user's space needs no crlso code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nasspace import get_space
from crlso.errors import ConfigError

if TYPE_CHECKING:
    from crlso.models.decoder import GenotypeDecoder
    from crlso.models.spaces.adapter import SpaceAdapter

__all__ = ["register_adapter", "get_adapter", "list_adapters", "unregister_adapter", "create_decoder"]

_ADAPTERS: dict[str, "SpaceAdapter"] = {}


def register_adapter(adapter: "SpaceAdapter", *, replace: bool = False) -> "SpaceAdapter":
    """Add ``adapter`` under its space name.

    Raises:
        ValueError: the name is taken (unless ``replace``).
    """
    if adapter.name in _ADAPTERS and not replace and _ADAPTERS[adapter.name] is not adapter:
        raise ConfigError(f"a space adapter named {adapter.name!r} is already registered")
    _ADAPTERS[adapter.name] = adapter
    return adapter


def unregister_adapter(name: str) -> None:
    _ADAPTERS.pop(name, None)


def list_adapters() -> list[str]:
    """Names of the spaces crlso's models can work in: registered adapters and choice spaces."""
    from nasspace import list_spaces

    return sorted(set(_ADAPTERS) | {name for name in list_spaces() if hasattr(get_space(name), "choice_sizes")})


def get_adapter(name: str) -> "SpaceAdapter":
    """The adapter of space ``name`` (the generic one for a choice space without its own).

    Raises:
        ValueError: an unknown space, or one crlso's models cannot read (lists those they can).
    """
    if name in _ADAPTERS:
        return _ADAPTERS[name]
    space = get_space(name)  # an unknown name: nasspace's error lists the spaces
    if not hasattr(space, "choice_sizes"):
        raise ConfigError(f"space {name!r} has no crlso adapter; spaces with one: {', '.join(list_adapters())}")
    from crlso.models.spaces.adapter import generic_adapter

    return generic_adapter(space)


def create_decoder(space: str, *, latent_dim: int, hidden: int = 128, num_blocks: int = 2) -> "GenotypeDecoder":
    """The decoder of ``space``, as its adapter builds it.

    Raises:
        ValueError: an unknown space, or one without an adapter; lists the spaces that have one.
    """
    return get_adapter(space).build_decoder(latent_dim=latent_dim, hidden=hidden, num_blocks=num_blocks)
