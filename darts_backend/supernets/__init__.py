"""Search networks (supernets) whose edges mix candidate ops under architecture weights."""

from darts_backend.supernets.darts import DartsSearchCell, DartsSearchNetwork
from darts_backend.supernets.nb201 import NB201SearchCell, NB201SearchNetwork

__all__ = ["DartsSearchCell", "DartsSearchNetwork", "NB201SearchCell", "NB201SearchNetwork"]
