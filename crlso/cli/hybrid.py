"""``crlso hybrid``: a supernet search (run here, or read from its folder) seeds CR-LSO on the table
(or, ``--oracle train``, on a training oracle: each proposed cell trained at a proxy budget)."""

from __future__ import annotations

import argparse
from pathlib import Path

from typing import Any

from nasspace.atomic import write_json_atomic
from nasspace.config_file import ConfigFileError, add_config_flag

from crlso.cli.oracle_options import add_oracle_options, oracle_from_run
from crlso.cli.search import (RUN_CONFIG_OUTPUTS, add_search_options, check_cache_dir, file_options, optimum_note,
                              parse_options, resolve_search_metric, resolve_space)
from crlso.errors import ConfigError, NotAFolderError

SUPERNET_METHODS = ("single-darts", "darts", "spos")
# hybrid options that have their own flag (a --config file may give them at the top level or under options)
FLAG_OPTIONS = ("alpha_top", "screen", "screen_factor", "screen_images", "screen_split", "screen_evaluator",
                "screen_calibration")


SUPERNET_SPACES = ("nb201", "darts")
"""Spaces whose supernet darts_backend builds (the hybrid's first stage)."""

def config_from_run(data: dict[str, Any]) -> dict[str, Any]:
    """A hybrid ``OUT/search/config.json`` (a `RunConfig`) as this command's option names.

    Its ``seed_from`` (the supernet folder the cells came from) becomes ``--supernet``, so the rerun
    reads that finished supernet search instead of running it again; flag options leave ``options``.
    """
    data = dict(data)
    method = data.pop("method", "hybrid")
    if method != "hybrid":
        raise ConfigFileError(f"config method {method!r}: crlso hybrid reruns hybrid runs only (crlso search takes {method!r})")
    options = data.get("options")
    if isinstance(options, dict):
        options = dict(options)
        for key in FLAG_OPTIONS:
            if key in options:
                data[key] = options.pop(key)
        if "seed_from" in options:
            data["supernet"] = options.pop("seed_from")
        data["options"] = options
    return oracle_from_run(data)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "hybrid", help="seed CR-LSO with a supernet search's cells (optionally pre-screen with its weights)",
        description="Step 1: a darts-backend supernet search (--supernet DIR reads a finished one; else --data runs "
        "one into OUT/supernet). Step 2: CR-LSO on the table from the derived cell and the cells the alphas rank "
        "highest, every table query charged to --budget, into OUT/search. In the darts space (no table) the "
        "supernet's held-out accuracy is the oracle, and the latent model is the one trained on the DARTS cells.",
    )
    parser.add_argument("--out", required=True, help="folder for supernet/ (when run here) and search/")
    parser.add_argument("--budget", type=int, default=100, help="oracle queries (table, or supernet on darts), seeds included (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latent search (default 0)")
    source = parser.add_argument_group("supernet search (step 1)")
    source.add_argument("--supernet", default=None, help="folder of a finished single-darts/darts/spos search (nb201 or darts space)")
    source.add_argument("--data", default=None, help="images to run the supernet search on (CIFAR-10 archive, image folder/tar)")
    source.add_argument("--supernet-method", choices=SUPERNET_METHODS, default="single-darts", help="default single-darts")
    source.add_argument("--supernet-seed", type=int, default=0, help="default 0")
    source.add_argument("--channels", type=int, default=16, help="supernet C (default 16; 8 on a CPU)")
    source.add_argument("--cells", type=int, default=5, help="nb201: cells per stage N (default 5; 1 on a CPU); darts: cells in all")
    source.add_argument("--epochs", type=int, default=50, help="default 50")
    source.add_argument("--batch-size", type=int, default=64, help="default 64")
    source.add_argument("--limit-train", type=int, default=None, help="train on a random subset of N images")
    source.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads of the supernet search (default: torch's choice, as darts-backend); "
                             "the latent search runs on 1, as crlso search")
    latent = parser.add_argument_group("latent search (step 2)")
    latent.add_argument("--alpha-top", type=int, default=4, help="cells ranked highest by the final alphas to seed with (default 4)")
    latent.add_argument("--screen", action="store_true", help="pre-screen proposals with the supernet's weights (off by default)")
    latent.add_argument("--screen-factor", type=int, default=4, help="candidates screened per query (default 4)")
    latent.add_argument("--screen-images", type=int, default=512, help="held-out images per screening (default 512)")
    latent.add_argument("--screen-split", default="", help="screen on this split instead of unused train images")
    latent.add_argument("--screen-evaluator", default="mixture", metavar="{mixture,single-path,zc:PROXY[+PROXY...]}",
                        help="mixture: BN of each evaluation batch (default); single-path: BN re-estimated per path "
                             "on held-out train images (SPOS; for --supernet-method spos); zc:synflow (or zc:synflow+params, "
                             "a rank-average): cached zero-cost proxy scores (darts-backend zc --all), no supernet weights")
    latent.add_argument("--screen-calibration", type=int, default=256,
                        help="single-path: held-out images re-estimating BN per candidate (default 256)")
    parser.add_argument("--tensorboard", default=None, metavar="DIR",
                        help="log the latent search's search/value and search/best_so_far to TensorBoard event files in DIR "
                             "(needs pip install tensorboard)")
    add_search_options(parser)
    add_oracle_options(parser)
    add_config_flag(parser, ignored=RUN_CONFIG_OUTPUTS, translate=config_from_run)
    parser.set_defaults(handler=run, options=None)


def run(args: argparse.Namespace) -> int:
    import torch

    from crlso.cli.oracle_options import evaluation_executor
    from crlso.experiments.run import RunConfig, run_experiment
    from crlso.search.hybrid import run_supernet_search, supernet_seeds

    oracle, batch, options, metric, resolved = _resolve_options(args)
    darts = args.space == "darts"
    check_cache_dir(resolved.cache_dir)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise NotAFolderError(f"--out {out} is a file, not a folder")
    if args.supernet is not None:  # read it before any pre-training: its space must be the search's
        supernet = Path(args.supernet)
        found = supernet_seeds(str(supernet), resolved.alpha_top)[0].space.name
        if found != args.space:
            raise ConfigError(f"--supernet {supernet} searched the {found} space; --space {args.space} needs a "
                              f"{args.space} supernet (or give --space {found})")
    else:
        supernet = run_supernet_search(
            out / "supernet", method=args.supernet_method, data=args.data, seed=args.supernet_seed, channels=args.channels,
            cells=args.cells, epochs=args.epochs, batch_size=args.batch_size, limit_train=args.limit_train, threads=args.threads,
            space=args.space,
        )
    seeds = supernet_seeds(str(supernet), resolved.alpha_top)  # fails early on a folder that is not a finished run
    options["seed_from"] = str(supernet.resolve())
    torch.set_num_threads(1)
    config = RunConfig(method="hybrid", space=args.space, dataset=args.dataset, budget=args.budget, seed=args.seed,
                       search_metric=metric, report_metric=args.report_metric, options=options,
                       data_dir=args.data_dir, supernet=str(supernet.resolve()) if darts and oracle is None else None,
                       oracle=oracle, budget_seconds=args.budget_seconds, batch=batch)
    summary = run_experiment(config, out / "search", tensorboard=args.tensorboard,
                             executor=evaluation_executor(args) if oracle is not None and oracle["name"] == "train" else None)
    best, stats = summary["best"], summary.get("searcher_stats", {})
    print(f"supernet: {supernet} gave {len(seeds)} seed cells (derived: {seeds[0]})")
    if resolved.screen:
        print(f"pre-screening: {stats.get('screened')} candidates screened by the {resolved.screen_evaluator} "
              f"evaluator, {stats.get('proposed')} proposed, "
              f"{summary['n_queries']} queried from the table")
    if oracle is not None:
        tail = (f" {config.report_metric} {best[config.report_metric]:.3f} (table)" if config.report_metric in best else
                " (training oracle: test accuracy comes from crlso finalize)" if oracle["name"] == "train" else
                f" (oracle {oracle['name']}: no table)")
    elif darts:
        tail = " (supernet oracle: no table, no test metric)"
    else:
        tail = f" {config.report_metric} {best[config.report_metric]:.3f}; {optimum_note(summary)}"

    print(f"hybrid seed {args.seed}: {summary['n_queries']} queries; best {best['genotype']} "
          f"{config.search_metric} {best[config.search_metric]:.3f}{tail}")
    write_json_atomic(out / "hybrid.json", {"supernet": str(supernet.resolve()), "seeds": [str(g) for g in seeds],
                                            "search": str((out / "search").resolve())})
    print(f"results: {out.resolve()} (search/queries.jsonl, search/summary.json, hybrid.json)")
    return 0


def _resolve_options(args: argparse.Namespace) -> tuple[dict | None, int | None, dict[str, Any], str, Any]:
    """``(oracle entry, batch, hybrid options, search metric, resolved config)``: every flag checked before the
    supernet search runs.

    Raises:
        ValueError: a bad flag or a combination the space does not allow.
    """
    from crlso.cli.oracle_options import oracle_metric, resolve_oracle
    from crlso.search import searcher_config
    from crlso.search.variants import resolve_method
    from nasspace.tracking import require_tensorboard

    if args.budget < 1:
        raise ConfigError(f"--budget must be >= 1, got {args.budget}")
    require_tensorboard(args.tensorboard)  # before the supernet search
    if (args.supernet is None) == (args.data is None):
        raise ConfigError("give exactly one of --supernet DIR (a finished search) and --data PATH (run one now)")
    if args.space not in SUPERNET_SPACES:
        raise ConfigError(f"crlso hybrid needs a supernet of the space; spaces with one: {', '.join(SUPERNET_SPACES)}")
    resolve_space(args)
    darts = args.space == "darts"
    if args.oracle == "train" and args.proxy_data is None:
        args.proxy_data = args.data  # the supernet's images, unless told otherwise
    oracle, batch = resolve_oracle(args, args.space)
    if darts and oracle is None and args.data is not None and args.limit_train is None:
        raise ConfigError("in the darts space the supernet is the oracle and scores on train images it never saw: "
                          "give --limit-train N so that some are left")
    # Flags first, --option overrides them; resolved (and so checked) before the supernet search runs.
    options = {"alpha_top": args.alpha_top, "screen": args.screen, "screen_factor": args.screen_factor,
               "screen_images": args.screen_images, "screen_split": args.screen_split,
               "screen_evaluator": args.screen_evaluator, "screen_calibration": args.screen_calibration,
               **file_options(args), **parse_options(args.option, ["hybrid"])["hybrid"]}
    metric = args.search_metric
    if oracle is not None:
        metric = oracle_metric(oracle, metric)
    elif darts:
        metric = "supernet_acc" if metric in (None, "valid_acc") else metric
    else:
        metric = resolve_search_metric(args)
    # the latent model of the space (DARTS cells: the supernet's accuracy or training is the search metric)
    _, _, options = resolve_method("hybrid", options, space=args.space, cache_dir=args.cache_dir)
    resolved = searcher_config("hybrid", options)
    if darts and resolved.screen and oracle is None:
        raise ConfigError("--screen is for table searches: in the darts space the supernet already is the oracle")
    return oracle, batch, options, metric, resolved
