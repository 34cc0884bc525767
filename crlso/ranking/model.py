"""The ranking model: what `crlso train` fits, `crlso rank` loads and `crlso rank-bench` measures.

Fitted on ``n`` labelled cells of one space (`crlso.ranking.spaces` featurizes them), it is:

1. ``ensemble`` GNN predictors whose body is initialised from the unlabelled pre-trained VAE's
   encoder body (``warm_start``), each fitted full-batch on the standardized target with MSE plus
   ``rank_weight`` times a pairwise logistic ranking loss over all labelled pairs; they see the cells
   through the space's ``graph_view`` (NB201: dead edges pruned, the same function);
2. with ``forest_weight > 0``, a random forest (``forest_trees`` trees, ``forest_max_features``) on the
   space's genotype-only ``cell_features``, plus zero-cost proxy features when given
   (`crlso.ranking.proxy_features`);
3. the score: ``(1 - w) * P(gnn) + w * P(forest)``, where ``P`` is a cell's average-rank position
   among the *reference* cells (all NB201 cells; the DARTS training cells), in ``(0, 1]``. On the
   reference cells themselves this is exactly the blend of average ranks `crlso rank-bench` uses.

Targets may be any scale; ``direction`` says whether higher or lower is better. Inside, the target
is oriented so that higher is better; `RankPrediction.predicted` and ``uncertainty`` are back in the
label's units and direction, ``score`` is always higher-is-better.

The forest is kept as arrays (`TreeEnsemble`), so the whole model is tensors, numbers and strings:
it loads with ``torch.load(..., weights_only=True)``. scikit-learn is needed to fit it, not to use it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from nasspace import Genotype
from nasspace.options import AT_LEAST_ONE, check_numbers

from crlso.models.encoder import GNNBody
from crlso.models.predictor import GNNPredictor
from crlso.ranking.spaces import rank_space
from crlso.models.config import ModelConfig, default_device
from crlso.errors import ConfigError, MissingDependency

__all__ = ["RANK_MODEL_VERSION", "DIRECTIONS", "RankModelConfig", "TreeEnsemble", "Reference", "RankPrediction",
           "RankModel", "build_member", "fit_forest"]

RANK_MODEL_VERSION = 1
DIRECTIONS = ("higher", "lower")


@dataclass(frozen=True)
class RankModelConfig:
    """Options of the ranking model (defaults: the B2 settings that gave tau 0.788 at n = 100)."""

    ensemble: int = 3
    epochs: int = 300
    lr: float = 2e-3
    weight_decay: float = 1e-4
    rank_weight: float = 3.0
    warm_start: bool = True
    graph_view: bool = True
    forest_weight: float = 0.5
    forest_trees: int = 300
    forest_max_features: float = 0.5

    def __post_init__(self) -> None:
        check_numbers(self, {"ensemble": AT_LEAST_ONE, "epochs": AT_LEAST_ONE, "forest_trees": AT_LEAST_ONE})
        if not 0.0 <= self.forest_weight <= 1.0:
            raise ConfigError(f"forest_weight must be in [0, 1], got {self.forest_weight}")
        if not 0.0 < self.forest_max_features <= 1.0:
            raise ConfigError(f"forest_max_features must be in (0, 1], got {self.forest_max_features}")


# -- forest as arrays -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TreeEnsemble:
    """A fitted regression forest as padded arrays, ``T`` trees of at most ``M`` nodes.

    Attributes:
        feature, left, right: ``(T, M)`` int64; a leaf has ``left = right =`` itself.
        threshold, value: ``(T, M)`` float64; go left when ``x[feature] <= threshold``.
        depth: the deepest leaf's depth.
    """

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    depth: int

    @classmethod
    def from_sklearn(cls, forest) -> "TreeEnsemble":
        trees = [e.tree_ for e in forest.estimators_]
        size = max(t.node_count for t in trees)
        shape = (len(trees), size)
        feature, left, right = (np.zeros(shape, np.int64) for _ in range(3))
        threshold, value = np.zeros(shape), np.zeros(shape)
        for i, tree in enumerate(trees):
            n = tree.node_count
            own = np.arange(n)
            leaf = tree.children_left[:n] < 0
            feature[i, :n] = np.where(leaf, 0, tree.feature[:n])
            threshold[i, :n] = tree.threshold[:n]
            left[i, :n] = np.where(leaf, own, tree.children_left[:n])
            right[i, :n] = np.where(leaf, own, tree.children_right[:n])
            value[i, :n] = tree.value[:n, 0, 0]
        return cls(feature, threshold, left, right, value, max(int(e.get_depth()) for e in forest.estimators_))

    def per_tree(self, features: np.ndarray, *, chunk: int = 2048) -> np.ndarray:
        """``(T, N)`` each tree's prediction of ``features (N, F)``."""
        x = np.asarray(features, dtype=np.float32).astype(np.float64)
        trees = np.arange(self.feature.shape[0])[:, None]
        parts = []
        for start in range(0, len(x), chunk):
            block = x[start : start + chunk]
            rows = np.arange(len(block))[None, :]
            node = np.zeros((len(trees), len(block)), dtype=np.int64)
            for _ in range(self.depth):
                go_left = block[rows, self.feature[trees, node]] <= self.threshold[trees, node]
                node = np.where(go_left, self.left[trees, node], self.right[trees, node])
            parts.append(self.value[trees, node])
        return np.concatenate(parts, axis=1) if parts else np.zeros((len(trees), 0))

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``(N,)`` the forest's prediction (mean over trees)."""
        return self.per_tree(features).mean(axis=0)

    def state(self) -> dict:
        arrays = {k: torch.from_numpy(np.ascontiguousarray(getattr(self, k))) for k in ("feature", "threshold", "left", "right", "value")}
        return {**arrays, "depth": self.depth}

    @classmethod
    def from_state(cls, state: dict) -> "TreeEnsemble":
        arrays = {k: state[k].numpy() for k in ("feature", "threshold", "left", "right", "value")}
        return cls(**arrays, depth=int(state["depth"]))


def fit_forest(features: np.ndarray, targets: np.ndarray, *, trees: int, seed: int,
               max_features: float | str | None = 1.0):
    """A scikit-learn ``RandomForestRegressor`` fitted on ``features (n, F)``, ``targets (n,)``.

    Raises MissingDependency (an ImportError) without scikit-learn, needed to fit a forest, not to use a saved one.
    """
    try:
        from sklearn.ensemble import RandomForestRegressor
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependency("fitting the ranking model's forest needs scikit-learn: pip install scikit-learn") from exc
    forest = RandomForestRegressor(n_estimators=trees, max_features=max_features, random_state=seed, n_jobs=1)
    return forest.fit(features, targets)


# -- the GNN members ------------------------------------------------------------------------------
def build_member(model: ModelConfig) -> GNNPredictor:
    """One GNN predictor of the ensemble: a body shaped like the VAE encoder's (same readout), so the
    warm start copies all of it."""
    featurizer = rank_space(model.space).graph_featurizer()
    body = GNNBody(node_dim=featurizer.node_dim, edge_dim=featurizer.edge_dim, hidden=model.gnn_hidden,
                   num_layers=model.gnn_layers, readout=model.readout, max_nodes=featurizer.max_nodes)
    return GNNPredictor(body, hidden=model.predictor_hidden)


def _fit_member(member: nn.Module, batch: Batch, scaled: Tensor, config: RankModelConfig) -> None:
    """Full-batch fit to ``scaled (n,)``: MSE + ``rank_weight`` * pairwise logistic loss, on crlso's device
    (`crlso.models.config.default_device`); the member is back on the CPU afterwards."""
    device = default_device()
    batch = batch.clone().to(device) if device.type != "cpu" else batch  # PyG's Batch.to moves in place
    member, scaled = member.to(device), scaled.to(device)
    sign = torch.sign(scaled[:, None] - scaled[None, :])
    pairs = (sign != 0).float()
    n_pairs, ranked = pairs.sum(), config.rank_weight > 0 and bool((sign != 0).any())  # the one sync, before the loop
    optimizer = torch.optim.AdamW(member.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    member.train()
    for _ in range(config.epochs):
        out = member(batch)
        loss = nn.functional.mse_loss(out, scaled)
        if ranked:  # mean over the ordered pairs, as a masked sum (no boolean indexing: no sync)
            margin = (out[:, None] - out[None, :]) * sign
            loss = loss + config.rank_weight * (nn.functional.softplus(-margin) * pairs).sum() / n_pairs
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    member.eval().to("cpu")


@torch.no_grad()
def _predict(member: nn.Module, batch: Batch, chunk: int = 4096) -> Tensor:
    from crlso.models.config import subset_batch

    n = batch.num_graphs
    return torch.cat([member(subset_batch(batch, list(range(s, min(s + chunk, n))))) for s in range(0, n, chunk)])


# -- reference cells and predictions --------------------------------------------------------------
@dataclass
class Reference:
    """Cells featurized once for fitting and scoring: ``batch`` as the GNN sees them, ``features (N, F)``."""

    cells: tuple[Genotype, ...]
    batch: Batch
    features: np.ndarray

    @classmethod
    def of(cls, space: str, cells: Sequence[Genotype], *, graph_view: bool = True, proxy_features=None) -> "Reference":
        """Featurize ``cells`` of ``space`` (``proxy_features``: a `ProxyFeatures` appended to the forest inputs)."""
        from crlso.models.graphs import batch_genotypes

        entry = rank_space(space)
        cells = tuple(cells)
        view = entry.graph_view(cells) if graph_view else list(cells)
        features = entry.cell_features(cells)
        if proxy_features is not None:
            features = np.concatenate([features, proxy_features.matrix([str(g) for g in cells])], axis=1)
        return cls(cells, batch_genotypes(view, entry.graph_featurizer()), features)

    def subset(self, index: np.ndarray) -> "Reference":
        from crlso.models.config import subset_batch

        index = np.asarray(index, dtype=np.int64)
        return Reference(tuple(self.cells[i] for i in index), subset_batch(self.batch, index.tolist()), self.features[index])


@dataclass(frozen=True)
class RankPrediction:
    """Per cell (``(N,)`` each): ``score`` (higher is better, in ``(0, 1]``), ``predicted`` (the GNN
    ensemble mean, label units), ``uncertainty`` (sd over the ensemble, label units, >= 0), and the
    raw parts ``gnn`` (oriented, standardized) and ``forest`` (oriented label units, or None)."""

    score: np.ndarray
    predicted: np.ndarray
    uncertainty: np.ndarray
    gnn: np.ndarray
    forest: np.ndarray | None


def _position(sorted_reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Average-rank position of each of ``values`` among ``sorted_reference (R,)``, scaled to ``(0, 1]``."""
    lo = np.searchsorted(sorted_reference, values, side="left")
    hi = np.searchsorted(sorted_reference, values, side="right")
    return (lo + hi + 1) / (2.0 * len(sorted_reference))


class RankModel:
    """A fitted ranking model (see the module doc). Build with `fit`, or `from_state` of a checkpoint."""

    def __init__(self, *, space: str, config: RankModelConfig, model: ModelConfig, direction: str,
                 members: list[nn.Module], forest: TreeEnsemble | None, target_mean: float, target_std: float,
                 reference_gnn: np.ndarray, reference_forest: np.ndarray | None, proxy_names: tuple[str, ...] = (),
                 forest_inputs: int = 0):
        if direction not in DIRECTIONS:
            raise ConfigError(f"label direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        self.space, self.config, self.model, self.direction = space, config, model, direction
        self.members, self.forest = members, forest
        self.target_mean, self.target_std = float(target_mean), float(target_std)
        self.reference_gnn = np.sort(np.asarray(reference_gnn, dtype=np.float64))
        self.reference_forest = None if reference_forest is None else np.sort(np.asarray(reference_forest, dtype=np.float64))
        self.proxy_names = tuple(proxy_names)
        self.forest_inputs = int(forest_inputs)  # width of the forest's feature rows
        self.reference_prediction: RankPrediction | None = None  # set by `fit`, not saved

    @property
    def sign(self) -> float:
        return 1.0 if self.direction == "higher" else -1.0

    @classmethod
    def fit(cls, reference: Reference, labelled: Reference, targets: np.ndarray, *, space: str, vae: nn.Module | None,
            config: RankModelConfig, model: ModelConfig, seed: int, direction: str = "higher",
            proxy_names: Sequence[str] = (), members: list[nn.Module] | None = None) -> "RankModel":
        """Fit on ``labelled`` cells with ``targets (n,)`` in label units; positions are taken among ``reference``.

        Args:
            vae: the unlabelled pre-trained VAE whose encoder body warm-starts the members (None: no warm start).
            seed: member ``m`` is initialised with seed ``seed * 1000 + m``; the forest with ``seed``.
            members: GNN members already fitted on these labels (e.g. by a model that differs only in
                its forest inputs); they are used as they are.

        Raises:
            ValueError: fewer than 2 labels, non-finite labels, or an unknown direction.
        """
        targets = np.asarray(targets, dtype=np.float64)
        if targets.ndim != 1 or len(targets) != labelled.batch.num_graphs:
            raise ConfigError(f"expected one target per labelled cell ({labelled.batch.num_graphs}), got shape {targets.shape}")
        if len(targets) < 2 or not np.isfinite(targets).all():
            raise ConfigError(f"the ranking model needs at least 2 finite labels, got {len(targets)} "
                              f"({int((~np.isfinite(targets)).sum())} not finite)")
        if direction not in DIRECTIONS:
            raise ConfigError(f"label direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        oriented = torch.as_tensor(targets if direction == "higher" else -targets, dtype=torch.float32)
        mean, std = oriented.mean(), oriented.std().clamp_min(1e-6)
        scaled = (oriented - mean) / std
        fitted_members = members
        members = []
        with torch.random.fork_rng(devices=[]):
            for m in range(0 if fitted_members is not None else config.ensemble):
                torch.manual_seed(seed * 1000 + m)
                member = build_member(model)
                if config.warm_start and vae is not None:
                    member.body.load_state_dict(vae.encoder.body.state_dict())
                _fit_member(member, labelled.batch, scaled, config)
                members.append(member)
        members = list(fitted_members) if fitted_members is not None else members
        forest, fitted = None, None
        if config.forest_weight > 0:
            fitted = fit_forest(labelled.features, oriented.numpy().astype(np.float64), trees=config.forest_trees, seed=seed,
                                max_features=config.forest_max_features)
            forest = TreeEnsemble.from_sklearn(fitted)
        ranker = cls(space=space, config=config, model=model, direction=direction, members=members, forest=forest,
                     target_mean=float(mean), target_std=float(std), reference_gnn=np.zeros(1), reference_forest=None,
                     proxy_names=tuple(proxy_names), forest_inputs=labelled.features.shape[1])
        gnn_members = ranker._members_on(reference.batch)
        forest_values = fitted.predict(reference.features) if fitted is not None else None  # = forest.predict, faster
        ranker.reference_gnn = np.sort(gnn_members.mean(axis=0))
        ranker.reference_forest = None if forest_values is None else np.sort(forest_values)
        ranker.reference_prediction = ranker._combine(gnn_members, forest_values)
        return ranker

    def _members_on(self, batch: Batch) -> np.ndarray:
        """``(M, N)`` each member's standardized, oriented prediction."""
        return torch.stack([_predict(m, batch) for m in self.members]).numpy().astype(np.float64)

    def _combine(self, gnn_members: np.ndarray, forest: np.ndarray | None) -> RankPrediction:
        gnn = gnn_members.mean(axis=0)
        w = self.config.forest_weight
        score = _position(self.reference_gnn, gnn)
        if forest is not None and self.reference_forest is not None:
            score = (1.0 - w) * score + w * _position(self.reference_forest, forest)
        units = gnn_members * self.target_std + self.target_mean
        predicted = self.sign * units.mean(axis=0)
        uncertainty = units.std(axis=0)
        return RankPrediction(score=score, predicted=predicted, uncertainty=uncertainty, gnn=gnn, forest=forest)

    def predict(self, cells: Reference) -> RankPrediction:
        """Scores of featurized ``cells`` (featurized as the model was: same graph view and proxies)."""
        if self.forest is not None and cells.features.shape[1] != self.forest_inputs:
            raise ConfigError(f"the cells have {cells.features.shape[1]} forest inputs, the model expects {self.forest_inputs}"
                              + (f" (proxies: {', '.join(self.proxy_names)})" if self.proxy_names else ""))
        forest = self.forest.predict(cells.features) if self.forest is not None else None
        return self._combine(self._members_on(cells.batch), forest)

    def featurize(self, cells: Sequence[Genotype], proxy_features=None) -> Reference:
        """``cells`` featurized as this model needs them (``proxy_features`` required iff it uses proxies)."""
        if self.proxy_names and proxy_features is None:
            raise ConfigError(f"this model uses proxy features ({', '.join(self.proxy_names)}); pass their proxy files")
        if proxy_features is not None and tuple(proxy_features.names) != self.proxy_names:
            raise ConfigError(f"the proxy files hold {', '.join(proxy_features.names) or 'none'}; "
                              f"the model was fitted with {', '.join(self.proxy_names) or 'none'}")
        return Reference.of(self.space, cells, graph_view=self.config.graph_view,
                            proxy_features=proxy_features if self.proxy_names else None)

    # -- checkpoint state ----------------------------------------------------------------------------
    def state(self) -> dict:
        """Tensors, numbers and strings only (loads with ``weights_only=True``)."""
        return {
            "version": RANK_MODEL_VERSION,
            "space": self.space,
            "direction": self.direction,
            "config": dataclasses.asdict(self.config),
            "model": dataclasses.asdict(self.model),
            "members": [m.state_dict() for m in self.members],
            "forest": self.forest.state() if self.forest is not None else None,
            "forest_inputs": self.forest_inputs,
            "target_mean": self.target_mean,
            "target_std": self.target_std,
            "reference_gnn": torch.from_numpy(self.reference_gnn),
            "reference_forest": None if self.reference_forest is None else torch.from_numpy(self.reference_forest),
            "proxy_names": list(self.proxy_names),
        }

    @classmethod
    def from_state(cls, state: dict) -> "RankModel":
        """Rebuild a model from `state`.

        Raises:
            ValueError: a model of another version, or weights that do not fit its config.
        """
        if not isinstance(state, dict) or state.get("version") != RANK_MODEL_VERSION:
            raise ConfigError(f"not a ranking model of version {RANK_MODEL_VERSION} "
                              f"(found {state.get('version') if isinstance(state, dict) else type(state).__name__})")
        try:
            model = ModelConfig(**state["model"])
            config = RankModelConfig(**state["config"])
        except TypeError as exc:
            raise ConfigError(f"the ranking model's config does not fit this version of crlso ({exc})") from None
        members = []
        for member_state in state["members"]:
            member = build_member(model)
            try:
                member.load_state_dict(member_state)
            except RuntimeError as exc:
                raise ConfigError(f"the ranking model's weights do not fit its config ({str(exc).splitlines()[0][:200]})") from None
            members.append(member.eval())
        forest = TreeEnsemble.from_state(state["forest"]) if state["forest"] is not None else None
        ranker = cls(space=state["space"], config=config, model=model, direction=state["direction"], members=members,
                     forest=forest, target_mean=state["target_mean"], target_std=state["target_std"],
                     reference_gnn=state["reference_gnn"].numpy(),
                     reference_forest=None if state["reference_forest"] is None else state["reference_forest"].numpy(),
                     proxy_names=tuple(state["proxy_names"]), forest_inputs=int(state["forest_inputs"]))
        return ranker
