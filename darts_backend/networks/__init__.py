"""Discrete networks built from genotypes (one module per space) and their parameter / FLOP counts."""

from darts_backend.networks.build import build_network
from darts_backend.networks.counting import count_flops, count_parameters
from darts_backend.networks.darts import DartsCell, DartsNetwork, GenotypeCost, as_flex, genotype_cost
from darts_backend.networks.nb201 import NB201Cell, NB201Network

__all__ = [
    "build_network",
    "count_flops",
    "count_parameters",
    "NB201Cell",
    "NB201Network",
    "DartsCell",
    "DartsNetwork",
    "GenotypeCost",
    "as_flex",
    "genotype_cost",
]
