"""``crlso search``: one search run into a run folder (resumes a killed run in the same folder).

On the table by default; ``--oracle train`` trains each proposed cell at a proxy budget instead (nb201
or darts space), a round of ``--batch`` cells at a time on ``--workers`` local processes or Ray.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nasspace.benchmarks.nb201 import DATASET_HELP
from nasspace.config_file import add_config_flag

from crlso.cli.common import add_data_dir

# Keys of a run's config.json that are outputs, not options: dropped when it is passed back as --config.
RUN_CONFIG_OUTPUTS = ("resolved_options", "variant")


def add_search_options(parser: argparse.ArgumentParser, spaces: tuple[str, ...] = ("nb201",)) -> None:
    """Flags shared by `search`, `compare` and `hybrid`: benchmark, metrics, method options, cache."""
    parser.add_argument("--space", default="nb201", choices=list(spaces), help="search space (default nb201)")
    parser.add_argument("--dataset", default="cifar10", help=f"{DATASET_HELP}; default cifar10")
    parser.add_argument("--search-metric", default=None,
                        help="metric the searcher sees (default: valid_acc on cifar10, valid_acc_12ep on cifar100 and ImageNet16-120)")
    parser.add_argument("--report-metric", default="test_acc", help="metric reported after the search (default test_acc)")
    parser.add_argument(
        "--option", action="append", default=[], metavar="[METHOD:]KEY=VALUE",
        help="override a searcher option, e.g. --option crlso:batch_size=5 (repeatable)",
    )
    parser.add_argument("--device", default=None, metavar="DEVICE",
                        help="auto (default: CUDA when present), cpu, cuda or cuda:N for the models; a compare's "
                             "local workers all use it (one CUDA context each)")
    parser.add_argument("--cache-dir", default=None, help="cache of pre-trained models (default $CRLSO_CACHE_DIR or ~/.cache/crlso)")
    add_data_dir(parser)


def resolve_search_metric(args: argparse.Namespace) -> str:
    """``--search-metric``, else the dataset's default (`nasspace.benchmarks.nb201.default_search_metric`)."""
    from nasspace.benchmarks.nb201 import default_search_metric

    if args.search_metric is None:
        args.search_metric = default_search_metric(args.dataset)
    elif args.search_metric.startswith("test_acc"):
        print(f"crlso {args.command}: warning: --search-metric {args.search_metric} shows the searcher test accuracy, "
              f"the held-out metric results are reported on; the protocol searches on "
              f"{default_search_metric(args.dataset)}", file=sys.stderr)
    return args.search_metric


def parse_options(items: list[str], methods: list[str]) -> dict[str, dict[str, str]]:
    """``[METHOD:]KEY=VALUE`` items -> per-method option dicts (no METHOD: every method).

    Raises:
        ValueError: an item without '=' or naming a method not in ``methods``.
    """
    options: dict[str, dict[str, str]] = {m: {} for m in methods}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--option {item!r} must look like [METHOD:]KEY=VALUE")
        method, colon, key = key.rpartition(":") if ":" in key else ("", "", key)
        targets = [method] if colon else methods
        for target in targets:
            if target not in options:
                raise ValueError(f"--option {item!r} names method {target!r}; methods of this run: {', '.join(methods)}")
            options[target][key] = value
    return options


def check_cache_dir(cache_dir: str | None) -> None:
    """Refuse a cache folder that is a file, before any pre-training would fail on it.

    Raises:
        NotADirectoryError: ``cache_dir`` (or a parent of it) is a file.
    """
    if not cache_dir:
        return
    path = Path(cache_dir).expanduser()
    for folder in (path, *path.parents):
        if folder.exists():
            if not folder.is_dir():
                raise NotADirectoryError(f"cache folder {path}: {folder} is a file, not a folder")
            return


def with_cache_dir(options: dict[str, dict[str, str]], cache_dir: str | None) -> dict[str, dict[str, str]]:
    """Give ``cache_dir`` (resolved) to every method whose config has a ``cache_dir`` option.

    An explicit ``--option METHOD:cache_dir=...`` wins; unknown methods are left to the registry's error.
    """
    import dataclasses

    from crlso.search import searcher_config
    from crlso.search.variants import VARIANTS

    if not cache_dir:
        return options
    check_cache_dir(cache_dir)
    for method, method_options in options.items():
        try:
            fields = {f.name for f in dataclasses.fields(searcher_config(VARIANTS[method].method if method in VARIANTS else method))}
        except ValueError:
            continue
        if "cache_dir" in fields:
            method_options.setdefault("cache_dir", str(Path(cache_dir).resolve()))
    return options


def resolve_oracle_and_metric(args: argparse.Namespace, *, no_table_hint: str = "") -> tuple[dict | None, int | None]:
    """``(oracle entry or None, batch)`` of `crlso.cli.oracle_options.resolve_oracle`, with ``args.search_metric``
    set to the training oracle's metric or resolved for the table; checked before any work.

    Raises:
        ValueError: a space without a table and no ``--oracle train``, or a bad oracle flag.
    """
    from crlso.cli.oracle_options import resolve_oracle
    from crlso.oracles import TRAIN_METRIC

    oracle, batch = resolve_oracle(args, args.space)
    if oracle is None and args.space != "nb201":
        raise ValueError(f"the {args.space} space has no table: give --oracle train{no_table_hint}")
    if oracle is not None:
        args.search_metric = TRAIN_METRIC
    else:
        resolve_search_metric(args)
    return oracle, batch


def optimum_note(summary: dict) -> str:
    """Where a run met the table's best cell, in words: ``optimum queried at step 37`` or ``optimum not queried in 100 queries``."""
    step = summary.get("queries_to_optimum")
    if step is None:
        return f"optimum not queried in {summary['n_queries']} queries"
    return f"optimum queried at step {step}"


def darts_model_options(options: dict) -> dict:
    """``options`` with the latent model of the DARTS cells (`crlso.models.config.default_model_config`) under
    any ``model`` fields the user set; for latent searchers in the darts space."""
    import dataclasses
    import json

    from crlso.models.config import default_model_config

    model = options.get("model", {})
    return {**options, "model": {**dataclasses.asdict(default_model_config("darts")),
                                 **(json.loads(model) if isinstance(model, str) else model), "space": "darts"}}


def register(subparsers: argparse._SubParsersAction) -> None:
    from crlso.cli.oracle_options import add_oracle_options

    parser = subparsers.add_parser("search", help="run one search (on a tabular benchmark, or training each cell) into a run folder")
    parser.add_argument("--method", required=True, help="random, rea, local, crlso, crlso-paper, latent_bo or hybrid")
    parser.add_argument("--model", default=None, metavar="DIR",
                        help="start a latent searcher from the model `crlso train` fitted in DIR (same space, dataset and metric)")
    parser.add_argument("--budget", type=int, required=True, help="distinct genotypes to evaluate")
    parser.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    parser.add_argument("--out", required=True, help="run folder (an existing one with the same config resumes)")
    parser.add_argument(
        "--threads", type=int, default=1,
        help="torch CPU threads (default 1: fastest for these small models, and the same as compare's workers, "
        "so a run gives the same queries as its compare twin)",
    )
    parser.add_argument("--tensorboard", default=None, metavar="DIR",
                        help="log search/value and search/best_so_far of every query to TensorBoard event files in DIR "
                             "(needs pip install tensorboard)")
    add_search_options(parser, spaces=("nb201", "darts"))
    add_oracle_options(parser)
    add_config_flag(parser, ignored=RUN_CONFIG_OUTPUTS)
    # options: a mapping of the method's options in a --config file (a run's config.json has one); --option wins
    parser.set_defaults(handler=run, options=None)


def file_options(args: argparse.Namespace) -> dict:
    """The ``options`` mapping of a ``--config`` file (``{}`` without one).

    Raises:
        ValueError: ``options`` is not a mapping.
    """
    options = getattr(args, "options", None) or {}
    if not isinstance(options, dict):
        raise ValueError(f"config key options must be a mapping of option names to values, got {options!r}")
    return options


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import torch

    from crlso.cli.oracle_options import evaluation_executor
    from crlso.experiments.run import RunConfig, run_experiment
    from crlso.search import searcher_config

    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    if args.budget < 1:
        raise ValueError(f"--budget must be >= 1, got {args.budget}")
    oracle, batch = resolve_oracle_and_metric(args, no_table_hint=" (or run crlso hybrid with a supernet)")
    options = parse_options(args.option, [args.method])
    options[args.method] = {**file_options(args), **options[args.method]}
    options = with_cache_dir(options, args.cache_dir)
    if args.space == "darts" and "model" in {f.name for f in dataclasses.fields(searcher_config(args.method))}:
        options[args.method] = darts_model_options(options[args.method])
    if args.model:
        import dataclasses

        from crlso.search import searcher_config

        if "model_dir" not in {f.name for f in dataclasses.fields(searcher_config(args.method))}:
            raise ValueError(f"--model needs a latent searcher (crlso, crlso-paper); {args.method!r} takes no model")
        options[args.method]["model_dir"] = str(Path(args.model).resolve())
    config = RunConfig(
        method=args.method, space=args.space, dataset=args.dataset, budget=args.budget, seed=args.seed,
        search_metric=args.search_metric, report_metric=args.report_metric, options=options[args.method],
        data_dir=args.data_dir, oracle=oracle, budget_seconds=args.budget_seconds, batch=batch,
    )
    executor = evaluation_executor(args) if oracle is not None else None
    summary = run_experiment(config, args.out, tensorboard=args.tensorboard, executor=executor)
    best = summary["best"]
    report = (f" {config.report_metric} {best[config.report_metric]:.3f}" if config.report_metric in best else "")
    optimum = (f"; {optimum_note(summary)}" if summary.get("optimum") else "")
    print(f"{args.method} seed {args.seed}: {summary['n_queries']} queries; best {best['genotype']} "
          f"{config.search_metric} {best[config.search_metric]:.3f}{report}{optimum}")
    if oracle is not None:
        print(f"trained {summary['n_queries']} cells: {summary['total_cost_seconds']:.0f} s of training on "
              f"{summary['executor']['name']} ({summary['executor']['workers']} workers)")
    extra = ", evaluations/" if oracle is not None else ""
    print(f"results: {Path(args.out).resolve()} (config.json, queries.jsonl, summary.json{extra})")
    return 0
