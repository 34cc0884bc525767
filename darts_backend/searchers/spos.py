"""SPOS: a supernet trained by uniform single-path sampling (Single Path One-Shot; RSPS on NB201).

Every step draws one cell of the supernet's space uniformly (`nasspace` ``space.sample``: on NB201
each of the 6 edges one of the 5 ops, ``none`` included; in the DARTS space each node two distinct
inputs and one of the 7 non-``none`` ops on each) and trains only that path
(``network(x, genotype=g)``). There are no architecture weights: the supernet's alphas never enter a
path's forward pass and are never updated.

The paths come from a NumPy generator seeded by `SposConfig.seed` (a run sets it to its own seed);
its state is part of `state_dict`, so a resumed run draws the same paths as an uninterrupted one.

What the method returns is chosen after training, from ``select_candidates`` sampled cells scored
through the trained weights (`darts_backend.runs.path_selection`, ``selection.json``); until then
`genotype` is the path of the last step, a placeholder for the per-epoch record. The supernet is the
plain one: PC-DARTS's partial channels and edge normalization do not apply to single paths.

Known on NB201: the packed per-node convolutions of the supernet give the rows of ops off the path
an exact zero gradient (not None), so SGD's momentum and weight decay still move them, as in SPOS's
own code (whose ``zero_grad`` zeroed every gradient).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from darts_backend.searchers.base import Batch, Searcher, SearcherConfig, register_searcher
from darts_backend.supernets import DartsSearchNetwork, NB201SearchNetwork
from nasspace.space import Genotype, get_space
from darts_backend.errors import ConfigError

__all__ = ["SposConfig", "SposSearcher", "path_space"]


@dataclass(frozen=True)
class SposConfig(SearcherConfig):
    """SPOS settings beyond `SearcherConfig` (whose alpha fields are unused).

    Attributes:
        seed: seeds the path sampler.
        select_candidates: sampled cells the run's genotype is chosen from (RSPS on NB201: 100).
        select_calibration: held-out images re-estimating BN for each candidate (SPOS: 20,000); at
            most half of the run's held-out share is used.
        select_images: held-out images scoring each candidate.
    """

    seed: int = 0
    select_candidates: int = 100
    select_calibration: int = 20000
    select_images: int = 5000

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.select_candidates, self.select_calibration, self.select_images) < 1:
            raise ConfigError(f"select_candidates, select_calibration and select_images must be >= 1, got "
                              f"{self.select_candidates}, {self.select_calibration}, {self.select_images}")


def path_space(network: NB201SearchNetwork | DartsSearchNetwork) -> str:
    """Name of the `nasspace` space whose cells run as single paths of `network`.

    Raises:
        ValueError: a DARTS-space supernet that is not in shared mode with 4 nodes and the DARTS ops.
    """
    if isinstance(network, NB201SearchNetwork):
        return "nb201"
    if isinstance(network, DartsSearchNetwork) and network.mode == "shared" and network.k == 4:
        return "darts"
    raise ConfigError("single-path sampling needs an NB201 supernet or a shared-mode DARTS supernet with 4 nodes")


@register_searcher("spos")
class SposSearcher(Searcher):
    """Uniform single-path training of a supernet's shared weights.

    Args:
        network: an NB201 supernet, or a shared-mode DARTS supernet (4 nodes), without PC-DARTS options.
        config: optimisation settings (a `SearcherConfig` is completed with `SposConfig`'s defaults).
    """

    needs_valid = False
    config_class = SposConfig
    config: SposConfig

    @classmethod
    def check_network_options(cls, *, partial_channels: int, edge_normalization: bool) -> None:
        if partial_channels != 1 or edge_normalization:
            raise ConfigError("spos trains single paths of the plain supernet: partial channels and edge "
                              "normalization do not apply (leave --partial-channels and --edge-normalization unset)")

    def __init__(self, network: NB201SearchNetwork | DartsSearchNetwork, config: SearcherConfig | None = None):
        super().__init__(network, SposConfig.coerce(config))  # type: ignore[arg-type]
        self.space = get_space(path_space(network))
        if self.space.name == "darts":
            self.network.genotype_plans(self.space.sample(0))  # every sampled op is a candidate of the network
        self.rng = np.random.default_rng(self.config.seed)
        self.last_path: Genotype | None = None
        self.chosen: Genotype | None = None  # set by the selection after training

    def sample_path(self) -> Genotype:
        """The next uniformly drawn cell (advances the sampler)."""
        return self.space.sample(self.rng)

    def train_step(self, train_batch: Batch, valid_batch: Batch | None = None) -> dict[str, torch.Tensor]:
        """One step of one sampled path.

        Args:
            train_batch: ``(x (B, 3, H, W), y (B,))``.
            valid_batch: ignored (accepted for the common contract).
        """
        path = self.sample_path()
        self.last_path = path
        self._zero_grad()
        x, y = train_batch
        with self._autocast(x):
            logits = self.network(x, genotype=path)
        loss = F.cross_entropy(logits.float(), y)
        loss.backward(inputs=self.network.weight_parameters())
        self._clip_weights()
        self.w_optimizer.step()
        acc = (logits.detach().argmax(dim=1) == y).float().mean()
        return {"loss": loss.detach(), "acc": acc}

    def genotype(self) -> Genotype:
        """The selected cell once chosen, else the last sampled path (else the alphas' argmax, before any step)."""
        if self.chosen is not None:
            return self.chosen
        return self.last_path if self.last_path is not None else self.network.genotype()

    def alpha_probabilities(self) -> Any:
        """The sampling distribution of an op on an edge: ``(6, 5)`` uniform on NB201; ``(2, 14, O)`` on
        DARTS, uniform over the non-``none`` ops (``none`` 0). Uniform by construction: SPOS learns no alphas."""
        ops = list(self.network.ops)
        if self.space.name == "nb201":
            return [[1.0 / len(ops)] * len(ops) for _ in range(self.network.alphas.shape[0])]
        real = [op for op in ops if op != "none"]
        row = [0.0 if op == "none" else 1.0 / len(real) for op in ops]
        groups, edges = self.network.alphas.shape[:2]
        return [[list(row) for _ in range(edges)] for _ in range(groups)]

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "path_rng": json.dumps(self.rng.bit_generator.state),
                "last_path": "" if self.last_path is None else str(self.last_path)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.rng.bit_generator.state = json.loads(state["path_rng"])
        self.last_path = self.space.parse(state["last_path"]) if state.get("last_path") else None
