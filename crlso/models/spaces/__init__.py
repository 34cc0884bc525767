"""Space adapters: what crlso's latent model needs from each search space (`SpaceAdapter`), by name.

`crlso.models.spaces.registry` imports no adapter; importing this package registers the built-in ones
(`crlso.models.spaces.builtin`). Any other space whose genotypes are rows of choices gets the generic adapter.
"""

from crlso.models.spaces.adapter import SAMPLED_CELLS, SpaceAdapter, generic_adapter, sampled_cells
from crlso.models.spaces.registry import create_decoder, get_adapter, list_adapters, register_adapter, unregister_adapter

import crlso.models.spaces.builtin  # noqa: E402,F401  registers nb201, nb101, darts

__all__ = ["SAMPLED_CELLS", "SpaceAdapter", "generic_adapter", "sampled_cells", "get_adapter", "list_adapters",
           "register_adapter", "unregister_adapter", "create_decoder"]
