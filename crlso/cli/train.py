"""``crlso train``: unlabelled VAE pre-training (cached), then the semi-supervised CR-LSO fit."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from crlso.cli.common import add_data_dir, data_store


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="pre-train the graph VAE and fit predictor + VAE + ICNN on labelled cells")
    parser.add_argument("--space", default="nb201", choices=["nb201"], help="search space (default nb201)")
    parser.add_argument("--dataset", default="cifar10", help="benchmark dataset of the labels (default cifar10)")
    parser.add_argument("--metric", default="valid_acc", help="label metric (default valid_acc)")
    parser.add_argument("--labels", type=int, default=100, help="random labelled cells, seeded (default 100; 0: pre-train only)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the label draw and the fit (default 0)")
    parser.add_argument("--epochs", type=int, default=None, help="joint VAE + ICNN epochs (default: SemiSupervisedConfig)")
    parser.add_argument("--pretrain-epochs", type=int, default=None, help="unlabelled pre-training epochs (default: PretrainConfig)")
    parser.add_argument("--latent-dim", type=int, default=None, help="latent width (default: ModelConfig)")
    parser.add_argument("--cache-dir", default=None, help="cache of pre-trained models (default $CRLSO_CACHE_DIR or ~/.cache/crlso)")
    parser.add_argument("--out", required=True, help="output folder (config.json, checkpoint.pt, summary.json)")
    add_data_dir(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    from scipy import stats

    from crlso.atomic import write_json_atomic
    from crlso.checkpoints import save_checkpoint
    from crlso.graphs import all_cells_batch
    from crlso.training import (ModelConfig, PretrainConfig, SemiSupervisedConfig, cached_pretrained_vae,
                                default_device, encode, train_semi_supervised)
    from nasspace.benchmarks.nb201 import NB201Table

    model = ModelConfig(space=args.space, **({"latent_dim": args.latent_dim} if args.latent_dim else {}))
    pretrain = PretrainConfig(**({"epochs": args.pretrain_epochs} if args.pretrain_epochs else {}))
    semi = SemiSupervisedConfig(**({"joint_epochs": args.epochs} if args.epochs is not None else {}))
    if not 0 <= args.labels <= 15625:
        raise ValueError(f"--labels must be in 0..15625, got {args.labels}")
    out = Path(args.out)
    config = {"space": args.space, "dataset": args.dataset, "metric": args.metric, "labels": args.labels,
              "seed": args.seed, "model": dataclasses.asdict(model), "pretrain": dataclasses.asdict(pretrain),
              "semi_supervised": dataclasses.asdict(semi)}
    write_json_atomic(out / "config.json", config)
    table = NB201Table(args.dataset, store=data_store(args))
    started = time.perf_counter()
    vae, cache_path = cached_pretrained_vae(model, pretrain, cache_dir=args.cache_dir, device=default_device())
    print(f"pre-trained VAE (unlabelled): {cache_path}")
    cells, batch = all_cells_batch(args.space)
    accuracy = np.asarray([table.query(g, args.metric) for g in cells], dtype=np.float32)
    rng = np.random.default_rng(args.seed)
    labelled = torch.as_tensor(np.sort(rng.choice(len(cells), size=args.labels, replace=False)), dtype=torch.long)
    summary: dict = {"labels": args.labels, "pretrain_cache": str(cache_path)}
    models: dict = {"vae": vae}
    if args.labels >= 2:
        errors = torch.as_tensor(1.0 - accuracy[labelled.numpy()] / 100.0)
        predictor, icnn = train_semi_supervised(vae, labelled, errors, model, semi, seed=args.seed)
        models.update(predictor=predictor, icnn=icnn)
        with torch.no_grad():
            predicted = icnn(encode(vae, batch)).cpu().numpy()
        rest = np.setdiff1d(np.arange(len(cells)), labelled.numpy())
        tau = stats.kendalltau(-predicted[rest], accuracy[rest]).statistic
        summary["kendall_tau_icnn_unlabelled"] = float(tau)
        print(f"ICNN Kendall tau on the {rest.size} unlabelled cells: {tau:.3f}")
    summary["seconds"] = time.perf_counter() - started
    save_checkpoint(out / "checkpoint.pt", models=models, model_config=model, extra_config=config,
                    genotypes=[str(cells[i]) for i in labelled.tolist()])
    write_json_atomic(out / "summary.json", summary)
    print(f"results: {out.resolve()} (config.json, checkpoint.pt, summary.json)")
    return 0
