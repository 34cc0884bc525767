"""nasspace: the shared genotype format, search spaces, benchmark data and oracles (no torch)."""

from nasspace.errors import BudgetExhausted, ChecksumError, DataError, GenotypeError, MetricUnavailable, NasSpaceError
from nasspace.graph import ArchGraph
from nasspace.space import (
    FORMAT_VERSION,
    Genotype,
    SearchSpace,
    as_rng,
    genotype_from_json,
    get_space,
    list_spaces,
    parse_genotype,
    register_space_instance,
    unregister_space,
)

# The built-in spaces register themselves on import (the registry in nasspace.space imports none of them).
import nasspace.nb201  # noqa: E402,F401
import nasspace.nb101  # noqa: E402,F401
import nasspace.darts  # noqa: E402,F401
import nasspace.flex  # noqa: E402,F401
import nasspace.nbgraph  # noqa: E402,F401
import nasspace.tnb101  # noqa: E402,F401

__all__ = [
    "ArchGraph",
    "BudgetExhausted",
    "ChecksumError",
    "DataError",
    "FORMAT_VERSION",
    "Genotype",
    "GenotypeError",
    "MetricUnavailable",
    "NasSpaceError",
    "SearchSpace",
    "as_rng",
    "genotype_from_json",
    "get_space",
    "list_spaces",
    "parse_genotype",
    "register_space_instance",
    "unregister_space",
]
