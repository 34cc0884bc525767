"""The search spaces darts_backend builds networks for, by name (`darts_backend.spaces.registry`).

Each space registers what darts_backend needs of it: its supernet builder, its discrete-network builder, the shape of
its architecture weights and its zero-cost defaults. The built-in spaces (``nb201``, ``darts``) live in
`darts_backend.spaces.builtin`, imported on the first lookup.
"""

from __future__ import annotations

from darts_backend.spaces.registry import (BackendSpace, backend_space, backend_space_of, list_backend_spaces,
                                           register_backend_space)

__all__ = ["BackendSpace", "backend_space", "backend_space_of", "list_backend_spaces", "register_backend_space"]
