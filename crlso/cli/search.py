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
from crlso.errors import ConfigError, NotAFolderError

# Keys of a run's config.json that are outputs, not options: dropped when it is passed back as --config.
RUN_CONFIG_OUTPUTS = ("resolved_options", "variant")


def add_search_options(parser: argparse.ArgumentParser) -> None:
    """Flags shared by `search`, `compare` and `hybrid`: benchmark, metrics, method options, cache."""
    parser.add_argument("--space", default="nb201",
                        help="search space (default nb201; `crlso spaces` lists each with its tables)")
    parser.add_argument("--dataset", default=None,
                        help=f"the space's dataset or task (default: its first table: cifar10 on nb201). nb201: {DATASET_HELP}")
    parser.add_argument("--search-metric", default=None,
                        help="metric the searcher sees (default: the table's search metric: valid_acc on cifar10, "
                             "valid_acc_12ep on cifar100 and ImageNet16-120)")
    parser.add_argument("--report-metric", default=None,
                        help="metric reported after the search (default: the table's report metric, test_acc on nb201)")
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
    """``--search-metric``, else the table's (`nasspace.benchmarks.registry.TableSpec.search_metric`); a search
    metric that is the table's report metric (a test split) is warned about."""
    from nasspace.benchmarks.registry import get_table_spec

    spec = get_table_spec(args.space, args.dataset)
    if args.search_metric is None:
        args.search_metric = spec.search_metric
    elif args.search_metric != spec.search_metric and (args.search_metric.startswith("test_acc")
                                                       or args.search_metric == spec.report_metric):
        print(f"crlso {args.command}: warning: --search-metric {args.search_metric} shows the searcher the held-out "
              f"metric results are reported on; the protocol searches on {spec.search_metric}", file=sys.stderr)
    if args.search_metric in spec.minimize:
        raise ConfigError(f"--search-metric {args.search_metric}: lower is better for it and a search maximizes; "
                          f"search one of the higher-is-better metrics (e.g. {spec.search_metric})")
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
            raise ConfigError(f"--option {item!r} must look like [METHOD:]KEY=VALUE")
        method, colon, key = key.rpartition(":") if ":" in key else ("", "", key)
        targets = [method] if colon else methods
        for target in targets:
            if target not in options:
                raise ConfigError(f"--option {item!r} names method {target!r}; methods of this run: {', '.join(methods)}")
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
                raise NotAFolderError(f"cache folder {path}: {folder} is a file, not a folder")
            return


def add_space_file_options(parser: argparse.ArgumentParser) -> None:
    """``--space-file`` and ``--table``: a user's own space and benchmark (`nasspace.benchmarks.user`)."""
    parser.add_argument("--space-file", default=None, metavar="SPACE.yaml",
                        help="a space of your own (kind: sequence or cell; README); with --table, replaces --space")
    parser.add_argument("--table", default=None, metavar="TABLE.csv",
                        help="your benchmark: a genotype column, then numeric metric columns (needs --space-file)")


def resolve_space(args: argparse.Namespace) -> None:
    """Register ``--space-file``/``--table`` when given, then check ``--space`` and fill ``--dataset`` and
    ``--report-metric`` from its table; everything before any work.

    Raises:
        ValueError: an unknown space or dataset, or one of --space-file/--table without the other.
    """
    from nasspace import get_space
    from nasspace.benchmarks.registry import default_dataset, get_table_spec, list_table_specs

    space_file, table = getattr(args, "space_file", None), getattr(args, "table", None)
    if (space_file is None) != (table is None):
        raise ConfigError("--space-file and --table go together: give both (a SPACE.yaml and its TABLE.csv)")
    if space_file is not None:
        from nasspace.benchmarks.user import register_user_benchmark

        spec = register_user_benchmark(space_file, table, search_metric=args.search_metric, report_metric=args.report_metric)
        args.space, args.dataset = spec.space, spec.dataset
        args.space_file, args.table = str(Path(space_file).resolve()), str(Path(table).resolve())
    get_space(args.space)  # an unknown name: the error lists the spaces
    specs = list_table_specs(args.space)
    if args.dataset is None:
        args.dataset = default_dataset(args.space)
    if specs:
        spec = get_table_spec(args.space, args.dataset)
        if args.report_metric is None:
            args.report_metric = spec.report_metric
    elif args.report_metric is None:
        args.report_metric = "test_acc"


def resolve_oracle_and_metric(args: argparse.Namespace, *, no_table_hint: str = "") -> tuple[dict | None, int | None]:
    """``(oracle entry or None, batch)`` of `crlso.cli.oracle_options.resolve_oracle`, with ``args.search_metric``
    set to the oracle's metric (`oracle_metric`) or resolved for the table; checked before any work.

    Raises:
        ValueError: a space without a table and no ``--oracle train``, or a bad oracle flag.
    """
    from crlso.cli.oracle_options import oracle_metric, resolve_oracle
    from crlso.oracles import has_table

    resolve_space(args)
    oracle, batch = resolve_oracle(args, args.space)
    if oracle is None and not has_table(args.space):
        raise ConfigError(f"the {args.space} space has no table: give --oracle train{no_table_hint}")
    if oracle is not None:
        args.search_metric = oracle_metric(oracle, args.search_metric)
    else:
        resolve_search_metric(args)
    return oracle, batch


def optimum_note(summary: dict) -> str:
    """Where a run met the table's best cell, in words: ``optimum queried at step 37`` or ``optimum not queried in 100 queries``."""
    step = summary.get("queries_to_optimum")
    if step is None:
        return f"optimum not queried in {summary['n_queries']} queries"
    return f"optimum queried at step {step}"


def register(subparsers: argparse._SubParsersAction) -> None:
    from crlso.cli.oracle_options import add_oracle_options, oracle_from_run

    parser = subparsers.add_parser("search", help="run one search (on a tabular benchmark, or training each cell) into a run folder")
    parser.add_argument("--method", required=True,
                        help="a searcher (random, rea, local, crlso, crlso-paper, latent_bo, hybrid) or a variant such as "
                             "crlso-frozen (crlso methods lists them all)")
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
    add_search_options(parser)
    add_space_file_options(parser)
    add_oracle_options(parser)
    add_config_flag(parser, ignored=RUN_CONFIG_OUTPUTS, translate=oracle_from_run)
    # options: a mapping of the method's options in a --config file (a run's config.json has one); --option wins
    parser.set_defaults(handler=run, options=None)


def file_options(args: argparse.Namespace) -> dict:
    """The ``options`` mapping of a ``--config`` file (``{}`` without one).

    Raises:
        ValueError: ``options`` is not a mapping.
    """
    options = getattr(args, "options", None) or {}
    if not isinstance(options, dict):
        raise ConfigError(f"config key options must be a mapping of option names to values, got {options!r}")
    return options


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import torch

    from crlso.cli.oracle_options import evaluation_executor
    from crlso.experiments.run import RunConfig, run_experiment
    from crlso.search import searcher_config
    from crlso.search.variants import resolve_method

    if args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    oracle, batch = resolve_oracle_and_metric(args, no_table_hint=" (or run crlso hybrid with a supernet)")
    check_cache_dir(args.cache_dir)
    options = {**file_options(args), **parse_options(args.option, [args.method])[args.method]}
    method, variant, method_options = resolve_method(args.method, options, space=args.space, cache_dir=args.cache_dir)
    if args.model:
        if "model_dir" not in {f.name for f in dataclasses.fields(searcher_config(method))}:
            raise ConfigError(f"--model needs a latent searcher (crlso, crlso-paper); {args.method!r} takes no model")
        method_options["model_dir"] = str(Path(args.model).resolve())
    config = RunConfig(
        method=method, variant=variant, space=args.space, dataset=args.dataset, budget=args.budget, seed=args.seed,
        search_metric=args.search_metric, report_metric=args.report_metric, options=method_options,
        data_dir=args.data_dir, oracle=oracle, budget_seconds=args.budget_seconds, batch=batch,
        space_file=args.space_file, table_file=args.table,
    )
    trains = oracle is not None and oracle["name"] == "train"
    executor = evaluation_executor(args) if trains else None
    summary = run_experiment(config, args.out, tensorboard=args.tensorboard, executor=executor)
    best = summary["best"]
    report = (f" {config.report_metric} {best[config.report_metric]:.3f}"
              if config.report_metric in best and config.report_metric != config.search_metric else "")
    optimum = (f"; {optimum_note(summary)}" if summary.get("optimum") else "")
    print(f"{args.method} seed {args.seed}: {summary['n_queries']} queries; best {best['genotype']} "
          f"{config.search_metric} {best[config.search_metric]:.3f}{report}{optimum}")
    if trains:
        print(f"trained {summary['n_queries']} cells: {summary['total_cost_seconds']:.0f} s of training on "
              f"{summary['executor']['name']} ({summary['executor']['workers']} workers)")
    extra = ", evaluations/" if trains else ""
    print(f"results: {Path(args.out).resolve()} (config.json, queries.jsonl, summary.json{extra})")
    return 0
