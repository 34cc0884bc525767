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
)

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
]
