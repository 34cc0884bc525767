"""``crlso train``: unlabelled VAE pre-training (cached), then the semi-supervised CR-LSO fit.

Cells and labels per space (`crlso.cells`):

- ``nb201``: every cell; ``--labels`` seeded random cells get their table value (default 100).
- ``nb101``: 10,000 cells sampled from the space + NASLib's 301 labelled NB101 cells (`crlso.nb101.cells`);
  ``--labels`` seeded random labelled cells get their 108-epoch validation accuracy (default: all).
- ``darts``: the 11,221 unlabelled DARTS genotypes + the 500 NAS-Bench-301 cells; ``--labels``
  seeded random NB301 cells get their value (default: all 500). NB301 cells left unlabelled
  measure the ICNN's Kendall tau.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nasspace.benchmarks.nb201 import DATASET_HELP
from nasspace.config_file import add_config_flag

from crlso.cli.common import add_data_dir, data_store

if TYPE_CHECKING:
    import numpy as np

    from nasspace import Genotype
    from nasspace.fetch import DataStore


# space -> (cells with a label, default --labels); None: every cell has one
LABEL_POOLS: dict[str, tuple[str, int | None]] = {"nb201": ("every NB201 cell", 100), "darts": ("the 500 NB301 cells", None),
                                                  "nb101": ("the 301 labelled NB101 cells", None)}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="pre-train the graph VAE and fit predictor + VAE + ICNN on labelled cells")
    parser.add_argument("--space", default="nb201", choices=list(LABEL_POOLS), help="search space (default nb201)")
    parser.add_argument("--dataset", default="cifar10", help=f"benchmark dataset of the labels: {DATASET_HELP}; default cifar10")
    parser.add_argument("--metric", default="valid_acc", help="label metric (default valid_acc)")
    parser.add_argument("--labels", type=int, default=None,
                        help="random labelled cells, seeded (default: 100 on nb201, all 500 NB301 cells on darts; 0: pre-train only)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the label draw and the fit (default 0)")
    parser.add_argument("--epochs", type=int, default=None, help="joint VAE + ICNN epochs (default: SemiSupervisedConfig)")
    parser.add_argument("--pretrain-epochs", type=int, default=None, help="unlabelled pre-training epochs (default: PretrainConfig)")
    parser.add_argument("--latent-dim", type=int, default=None, help="latent width (default: ModelConfig)")
    parser.add_argument("--hidden", type=int, default=None,
                        help="width of every GNN, decoder, ICNN and predictor layer (default: ModelConfig; small for CPU tests)")
    parser.add_argument("--predictor-epochs", type=int, default=None, help="predictor epochs (default: SemiSupervisedConfig)")
    parser.add_argument("--cache-dir", default=None, help="cache of pre-trained models (default $CRLSO_CACHE_DIR or ~/.cache/crlso)")
    parser.add_argument("--out", required=True, help="output folder (config.json, checkpoint.pt, summary.json)")
    add_data_dir(parser)
    add_config_flag(parser)
    # model / pretrain / semi_supervised: mappings of ModelConfig, PretrainConfig and SemiSupervisedConfig
    # fields in a --config file (the run's config.json has all three); the flags above win over them
    parser.set_defaults(handler=run, model=None, pretrain=None, semi_supervised=None)


def _overlay(config: object, values: object, key: str) -> object:
    """``config`` (a dataclass) with the fields of a --config section replaced.

    Raises:
        ValueError: the section is not a mapping or names a field the config does not have.
    """
    if values is None:
        return config
    names = [f.name for f in dataclasses.fields(config)]
    if not isinstance(values, dict):
        raise ValueError(f"config key {key} must be a mapping of {type(config).__name__} fields, got {values!r}")
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"config key {key}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(names)}")
    return dataclasses.replace(config, **values)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from scipy import stats

    from crlso.atomic import write_json_atomic
    from crlso.checkpoints import save_checkpoint
    from crlso.cells import training_cells_batch
    from crlso.training import (PretrainConfig, SemiSupervisedConfig, cached_pretrained_vae, default_device,
                                default_model_config, encode, train_semi_supervised)

    hidden = {} if args.hidden is None else {
        name: args.hidden for name in ("gnn_hidden", "decoder_hidden", "icnn_hidden", "predictor_hidden")}
    sizes = {**({"latent_dim": args.latent_dim} if args.latent_dim is not None else {}), **hidden}
    model = dataclasses.replace(_overlay(default_model_config(args.space), args.model, "model"), **sizes)
    pretrain = dataclasses.replace(_overlay(PretrainConfig(), args.pretrain, "pretrain"),
                                   **({"epochs": args.pretrain_epochs} if args.pretrain_epochs is not None else {}))
    semi = dataclasses.replace(_overlay(SemiSupervisedConfig(), args.semi_supervised, "semi_supervised"),
                               **({"joint_epochs": args.epochs} if args.epochs is not None else {}),
                               **({"predictor_epochs": args.predictor_epochs} if args.predictor_epochs is not None else {}))
    store = data_store(args)
    cells, batch = training_cells_batch(args.space, store)
    pool, accuracy = _label_pool(args.space, cells, args.dataset, args.metric, store)
    labels = LABEL_POOLS[args.space][1] if args.labels is None else args.labels
    labels = len(pool) if labels is None else labels
    if not 0 <= labels <= len(pool):
        raise ValueError(f"--labels must be in 0..{len(pool)} ({LABEL_POOLS[args.space][0]}), got {labels}")
    out = Path(args.out)
    config = {"space": args.space, "dataset": args.dataset, "metric": args.metric, "labels": labels,
              "seed": args.seed, "model": dataclasses.asdict(model), "pretrain": dataclasses.asdict(pretrain),
              "semi_supervised": dataclasses.asdict(semi)}
    write_json_atomic(out / "config.json", config)
    started = time.perf_counter()
    vae, cache_path = cached_pretrained_vae(model, pretrain, cache_dir=args.cache_dir, device=default_device(), store=store)
    print(f"pre-trained VAE (unlabelled): {cache_path}")
    rng = np.random.default_rng(args.seed)
    chosen = np.sort(rng.choice(len(pool), size=labels, replace=False))  # positions in the label pool
    labelled = torch.as_tensor(pool[chosen], dtype=torch.long)  # positions among the cells
    summary: dict = {"labels": labels, "pretrain_cache": str(cache_path)}
    models: dict = {"vae": vae}
    if labels >= 2:
        errors = torch.as_tensor(1.0 - accuracy[chosen] / 100.0)
        predictor, icnn = train_semi_supervised(vae, labelled, errors, model, semi, seed=args.seed, store=store)
        models.update(predictor=predictor, icnn=icnn)
        with torch.no_grad():
            predicted = icnn(encode(vae, batch)).cpu().numpy()
        rest = np.setdiff1d(np.arange(len(pool)), chosen)
        if rest.size >= 2:
            tau = stats.kendalltau(-predicted[pool[rest]], accuracy[rest]).statistic
            summary["kendall_tau_icnn_unlabelled"] = float(tau)
            print(f"ICNN Kendall tau on the {rest.size} unlabelled cells: {tau:.3f}")
    summary["seconds"] = time.perf_counter() - started
    save_checkpoint(out / "checkpoint.pt", models=models, model_config=model, extra_config=config,
                    genotypes=[str(cells[i]) for i in labelled.tolist()])
    write_json_atomic(out / "summary.json", summary)
    print(f"results: {out.resolve()} (config.json, checkpoint.pt, summary.json)")
    return 0


def _label_pool(space: str, cells: Sequence[Genotype], dataset: str, metric: str, store: DataStore
                ) -> tuple[np.ndarray, np.ndarray]:
    """``(positions (P,) among cells, accuracy (P,))`` of the cells whose label can be read."""
    import numpy as np

    if space == "nb201":
        from nasspace.benchmarks.nb201 import NB201Table

        table = NB201Table(dataset, store=store)
        accuracy = np.asarray([table.query(g, metric) for g in cells], dtype=np.float32)
        return np.arange(len(cells)), accuracy
    from nasspace.benchmarks.subsets import SubsetTable

    subset = SubsetTable(space, dataset=dataset, store=store)
    position = {str(g): i for i, g in enumerate(cells)}
    pool = np.asarray([position[str(g)] for g in subset.genotypes], dtype=np.int64)
    return pool, np.asarray(subset.metric(metric), dtype=np.float32)
