"""``crlso train``: the ranking model that ``crlso rank`` loads and ``crlso rank-bench`` measures.

1. Unlabelled VAE pre-training on the space's cells (cached; no label reaches it).
2. The ranking model (`crlso.ranking.model`): a GNN ensemble warm-started from the VAE encoder plus a
   forest on genotype-only cell features (and zero-cost proxies with ``--proxy-features``).
3. Optionally (``--latent-fit``) the CR-LSO semi-supervised fit (GNN predictor, then VAE + ICNN);
   without it the checkpoint's VAE is the pre-trained one (what ``crlso search --model`` reads).

Labels, either:

- a benchmark's: ``nb201``: ``--labels`` seeded random cells of every NB201 cell (default 100);
  ``darts``: ``--labels`` of the 500 NB301 cells (default all); ``nb101``: of NASLib's 301 labelled NB101
  cells (108-epoch validation accuracy; default all); accuracies in percent, higher is better; any other space
  with a table (``crlso spaces``): ``--labels`` of its rows (default 100), its search metric, its direction;
- a file (``--label-file``): CSV with a header, or JSONL, each row a ``genotype`` (canonical string)
  and a value in the column ``--label-column`` (default ``value``). Declare ``--label-direction``
  and ``--label-scale``; what is not declared is inferred and the inference is printed.

Positions (the score) are taken among the reference cells: the benchmark's pool of the space
(every NB201 cell; the 500 NB301 cells; a table's rows with its labels), or the labelled cells otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nasspace.benchmarks.nb201 import DATASET_HELP
from nasspace.config_file import add_config_flag

from crlso.cli.common import add_data_dir, data_store
from crlso.errors import ConfigError, MissingFileError

if TYPE_CHECKING:
    import numpy as np

    from nasspace import Genotype

    from crlso.experiments.train import Labels, TrainJob


# space -> (cells with a benchmark label, default --labels); None: all of them
LABEL_POOLS: dict[str, tuple[str, int | None]] = {"nb201": ("every NB201 cell", 100), "darts": ("the 500 NB301 cells", None),
                                                  "nb101": ("the 301 labelled NB101 cells", None)}
LABEL_SCALES = ("percent", "fraction", "raw")
_SCALE_RANGES = {"percent": (0.0, 100.0), "fraction": (0.0, 1.0)}


def _paths(text: str) -> tuple[str, ...]:
    return tuple(p for p in text.split(",") if p)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="fit the ranking model (and the pre-trained VAE) on labelled cells")
    parser.add_argument("--space", default="nb201",
                        help="search space (default nb201; nb101, darts, or a space of choice rows with --label-file)")
    parser.add_argument("--dataset", default=None,
                        help=f"benchmark dataset of the labels: {DATASET_HELP}; default cifar10 (another space: its first table)")
    parser.add_argument("--metric", default=None,
                        help="label metric (default valid_acc; another space: its table's search metric); recorded in the checkpoint")
    parser.add_argument("--labels", type=int, default=None,
                        help="random labelled benchmark cells, seeded (default: 100 on nb201, all 500 NB301 cells on darts)")
    parser.add_argument("--label-file", default=None, help="labels of your own: CSV (header) or JSONL rows with genotype and a value")
    parser.add_argument("--label-column", default="value", help="value column of --label-file (default value)")
    parser.add_argument("--label-direction", default=None, choices=["higher", "lower"],
                        help="which values are better (default: inferred from the metric name, and said so)")
    parser.add_argument("--label-scale", default=None, choices=list(LABEL_SCALES),
                        help="percent, fraction or raw (default: percent for benchmark labels; inferred for a file, and said so)")
    parser.add_argument("--proxy-features", type=_paths, default=(),
                        help="comma-separated zero-cost proxy cache files, added as inputs of the ranking model")
    parser.add_argument("--seed", type=int, default=0, help="seed of the label draw and the fit (default 0)")
    parser.add_argument("--ensemble", type=int, default=None, help="GNN members (default: RankModelConfig)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of each GNN member (default: RankModelConfig)")
    parser.add_argument("--forest-weight", type=float, default=None, help="rank-blend weight of the forest (default: RankModelConfig)")
    parser.add_argument("--forest-trees", type=int, default=None, help="trees of the forest (default: RankModelConfig)")
    parser.add_argument("--no-warm-start", action="store_true", help="do not initialise the GNN members from the VAE encoder")
    parser.add_argument("--pretrain-epochs", type=int, default=None, help="unlabelled pre-training epochs (default: PretrainConfig)")
    parser.add_argument("--latent-dim", type=int, default=None, help="latent width (default: ModelConfig)")
    parser.add_argument("--hidden", type=int, default=None,
                        help="width of every GNN, decoder, ICNN and predictor layer (default: ModelConfig; small for CPU tests)")
    parser.add_argument("--latent-fit", action="store_true",
                        help="also run the CR-LSO semi-supervised fit (predictor, then VAE + ICNN) for crlso search --model")
    parser.add_argument("--joint-epochs", type=int, default=None, help="with --latent-fit: VAE + ICNN epochs (default: SemiSupervisedConfig)")
    parser.add_argument("--predictor-epochs", type=int, default=None, help="with --latent-fit: predictor epochs (default: SemiSupervisedConfig)")
    parser.add_argument("--device", default=None, metavar="DEVICE",
                        help="auto (default: CUDA when present), cpu, cuda or cuda:N for the models")
    parser.add_argument("--cache-dir", default=None, help="cache of pre-trained models (default $CRLSO_CACHE_DIR or ~/.cache/crlso)")
    parser.add_argument("--out", required=True, help="output folder (config.json, checkpoint.pt, summary.json)")
    add_data_dir(parser)
    add_config_flag(parser, ignored=("proxies", "versions"), translate=config_from_run)
    # model / pretrain / semi_supervised / ranker: mappings of ModelConfig, PretrainConfig, SemiSupervisedConfig and
    # RankModelConfig fields in a --config file (the run's config.json has them); the flags above win over them
    parser.set_defaults(handler=run, model=None, pretrain=None, semi_supervised=None, ranker=None)


def config_from_run(data: dict) -> dict:
    """A ``crlso train`` ``config.json`` as this command's option names: ``label`` back to the label flags,
    ``latent_fit`` (its settings, or None) to ``--latent-fit`` and the ``semi_supervised`` section; ``ranker``
    stays a section (`RankModelConfig` fields). The proxy files are not recorded: pass ``--proxy-features`` again."""
    data = dict(data)
    label = data.pop("label", None)
    if isinstance(label, dict):
        data.setdefault("label_direction", label.get("direction"))
        data.setdefault("label_scale", label.get("scale"))
        if "file" in label:
            data.setdefault("label_file", label["file"])
            data.setdefault("label_column", label.get("column", "value"))
        elif "labels" in label:
            data.setdefault("labels", label["labels"])
    if "latent_fit" in data and not isinstance(data["latent_fit"], bool):
        fit = data.pop("latent_fit")
        data["latent_fit"] = fit is not None
        if isinstance(fit, dict):
            data.setdefault("semi_supervised", fit)
    return data


def _overlay(config: object, values: object, key: str) -> object:
    """``config`` (a dataclass) with the fields of a --config section replaced.

    Raises:
        ValueError: the section is not a mapping or names a field the config does not have.
    """
    if values is None:
        return config
    names = [f.name for f in dataclasses.fields(config)]
    if not isinstance(values, dict):
        raise ConfigError(f"config key {key} must be a mapping of {type(config).__name__} fields, got {values!r}")
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(f"config key {key}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(names)}")
    return dataclasses.replace(config, **values)


def infer_direction(name: str) -> str | None:
    """``higher`` for an accuracy-like name, ``lower`` for an error or loss, else None."""
    lowered = name.lower()
    if "acc" in lowered:
        return "higher"
    if "err" in lowered or "loss" in lowered:
        return "lower"
    return None


def check_scale(values: np.ndarray, scale: str | None) -> tuple[str, str | None]:
    """``(scale, note)``: the declared scale checked against ``values``, or one inferred (``note`` says so).

    Raises:
        ValueError: values outside the declared scale's range.
    """
    import numpy as np

    low, high = float(np.min(values)), float(np.max(values))
    if scale is not None:
        bounds = _SCALE_RANGES.get(scale)
        if bounds is not None and not bounds[0] <= low <= high <= bounds[1]:
            raise ConfigError(f"--label-scale {scale} needs values in [{bounds[0]:g}, {bounds[1]:g}], the labels span "
                              f"[{low:g}, {high:g}]; declare the scale they are in ({', '.join(LABEL_SCALES)})")
        return scale, None
    inferred = "fraction" if 0.0 <= low and high <= 1.0 else "percent" if 0.0 <= low and high <= 100.0 else "raw"
    return inferred, (f"label scale inferred as {inferred} (values in [{low:g}, {high:g}]); "
                      "pass --label-scale to declare it")


def run(args: argparse.Namespace) -> int:
    from crlso.experiments.train import run_training

    job = resolve_job(args)
    summary = run_training(job)
    print(f"trained in {summary['seconds']:.1f} s; results: {job.out.resolve()} (config.json, checkpoint.pt, summary.json)")
    return 0


def resolve_job(args: argparse.Namespace) -> TrainJob:
    """The flags as a `crlso.experiments.train.TrainJob`; every check is made here, before any work.

    Raises:
        ConfigError: a flag out of range or a combination that cannot run (names what is allowed).
    """
    from crlso.experiments.train import TrainJob
    from crlso.ranking.proxy_features import read_proxy_files

    if args.label_file is not None and args.labels is not None:
        raise ConfigError("give --labels (benchmark cells) or --label-file (your own labels), not both")
    if args.latent_fit and args.label_file is not None:
        raise ConfigError("--latent-fit needs benchmark labels (it learns error = 1 - acc/100); drop --label-file or --latent-fit")
    if args.latent_fit and args.no_warm_start:
        raise ConfigError("--latent-fit needs the pre-trained VAE; drop --no-warm-start")
    _table_defaults(args)
    model, pretrain, ranker_config, semi = _configs(args)
    store = data_store(args)
    proxies = read_proxy_files(args.proxy_features, space=args.space) if args.proxy_features else None
    pool = _pool(args, store)
    labels, notes = _labels(args, pool)
    for note in notes:
        print(f"crlso train: {note}")
    return TrainJob(space=args.space, dataset=args.dataset, metric=args.metric, seed=args.seed, out=Path(args.out),
                    model=model, pretrain=pretrain, ranker=ranker_config, labels=labels,
                    semi=semi if args.latent_fit else None, pool=pool, proxies=proxies, cache_dir=args.cache_dir,
                    store=store)


def _labels_from_table(space: str) -> bool:
    """Whether benchmark labels of ``space`` come from its registered table (every space with one, but nb201, darts
    and nb101, whose labelled pools are their own: `crlso.ranking.benchmark.labelled_pool`)."""
    from crlso.oracles.table import has_table
    from crlso.ranking.benchmark import BENCH_SPACES

    return space not in BENCH_SPACES and has_table(space)


def _table_defaults(args: argparse.Namespace) -> None:
    """``--dataset`` and ``--metric`` when not given: the space's first table and its search metric (nb201, darts,
    nb101: cifar10 and valid_acc)."""
    from nasspace.benchmarks.registry import default_dataset, get_table_spec

    tabled = _labels_from_table(args.space)
    if args.dataset is None:
        args.dataset = default_dataset(args.space) if tabled else "cifar10"
    if args.metric is None:
        args.metric = get_table_spec(args.space, args.dataset).search_metric if tabled else "valid_acc"


def _configs(args: argparse.Namespace) -> tuple[Any, Any, Any, Any]:
    """``(ModelConfig, PretrainConfig, RankModelConfig, SemiSupervisedConfig)``: defaults, then the --config
    sections, then the flags."""
    from crlso.models.config import PretrainConfig, SemiSupervisedConfig
    from crlso.ranking.model import RankModelConfig
    from crlso.ranking.spaces import rank_space

    hidden = {} if args.hidden is None else {
        name: args.hidden for name in ("gnn_hidden", "decoder_hidden", "icnn_hidden", "predictor_hidden")}
    sizes = {**({"latent_dim": args.latent_dim} if args.latent_dim is not None else {}), **hidden}
    model = dataclasses.replace(_overlay(rank_space(args.space).model_config(), args.model, "model"), **sizes)
    pretrain = dataclasses.replace(_overlay(PretrainConfig(), args.pretrain, "pretrain"),
                                   **({"epochs": args.pretrain_epochs} if args.pretrain_epochs is not None else {}))
    overrides = {"ensemble": args.ensemble, "epochs": args.epochs, "forest_weight": args.forest_weight,
                 "forest_trees": args.forest_trees}
    if args.no_warm_start:
        overrides["warm_start"] = False
    ranker_config = dataclasses.replace(_overlay(RankModelConfig(), args.ranker, "ranker"),
                                        **{k: v for k, v in overrides.items() if v is not None})
    semi = dataclasses.replace(_overlay(SemiSupervisedConfig(), args.semi_supervised, "semi_supervised"),
                               **({"joint_epochs": args.joint_epochs} if args.joint_epochs is not None else {}),
                               **({"predictor_epochs": args.predictor_epochs} if args.predictor_epochs is not None else {}))
    return model, pretrain, ranker_config, semi


def _pool(args: argparse.Namespace, store: Any) -> Any:
    """The space's benchmark pool (`crlso.ranking.benchmark.labelled_pool`; another space's table only for benchmark
    labels, so a label file there needs no table), or None."""
    from crlso.ranking.benchmark import BENCH_SPACES, labelled_pool

    if args.space in BENCH_SPACES or (args.label_file is None and _labels_from_table(args.space)):
        return labelled_pool(args.space, dataset=args.dataset, metric=args.metric, store=store)
    return None


def _labels(args: argparse.Namespace, pool: Any) -> tuple[Labels, list[str]]:
    """The labelled cells (a file's, or ``--labels`` seeded benchmark cells) and the notes of what was inferred."""
    from crlso.experiments.train import Labels, benchmark_labels

    notes: list[str] = []
    chosen = None
    if args.label_file is not None:
        cells, values = read_label_file(args.label_file, args.space, args.label_column)
        source = {"file": str(Path(args.label_file).resolve()), "column": args.label_column}
        name = args.label_column if args.label_column != "value" else args.metric
        scale, note = check_scale(values, args.label_scale)
        notes += [note] if note else []
    else:
        if pool is None:
            raise ConfigError(f"the {args.space} space has no benchmark labels here; pass --label-file")
        described, default = LABEL_POOLS.get(args.space, (f"the {len(pool.cells):,} cells of its {args.dataset} table", 100))
        count = args.labels if args.labels is not None else default if default is not None else len(pool.cells)
        cells, values, chosen = benchmark_labels(pool, count, args.seed, described=described)
        source = {"benchmark": args.space, "dataset": args.dataset, "labels": count}
        name = args.metric
        scale, _ = check_scale(values, args.label_scale or ("percent" if "acc" in args.metric else "raw"))
    direction = args.label_direction or _table_direction(args, name)
    if direction is None:
        direction = infer_direction(name)
        if direction is None:
            raise ConfigError(f"cannot tell whether higher or lower {name!r} is better; pass --label-direction higher|lower")
        notes.append(f"label direction inferred as {direction} from the name {name!r}; pass --label-direction to declare it")
    return Labels(cells, values, name, direction, scale, source, chosen), notes


def _table_direction(args: argparse.Namespace, name: str) -> str | None:
    """``lower`` or ``higher`` when ``name`` is a metric of the space's table (its spec's ``minimize`` says which)."""
    from nasspace.benchmarks.registry import get_table_spec

    if args.label_file is not None or not _labels_from_table(args.space) or name != args.metric:
        return None
    return "lower" if name in get_table_spec(args.space, args.dataset).minimize else "higher"


def read_label_file(path: str | Path, space: str, column: str) -> tuple[list[Genotype], np.ndarray]:
    """``(cells, values (n,))`` of a label file: CSV with a header, or JSONL (by suffix ``.jsonl``/``.json``).

    Raises:
        FileNotFoundError: no file.
        ValueError: a row without ``genotype`` or ``column``, a bad genotype or value (names the line),
            a cell given twice, or fewer than 2 rows.
    """
    import csv
    import json

    import numpy as np

    from crlso.ranking.spaces import rank_space

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"no label file at {path}")
    text = path.read_text()
    if path.suffix.lower() in (".jsonl", ".json"):
        rows = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path} line {number}: not valid JSON ({exc.msg})") from None
    else:
        rows = [(number, row) for number, row in enumerate(csv.DictReader(text.splitlines()), start=2)]
    entry = rank_space(space)
    cells, values, seen = [], [], set()
    for number, row in rows:
        if not isinstance(row, dict) or "genotype" not in row or column not in row:
            keys = ", ".join(row) if isinstance(row, dict) else type(row).__name__
            raise ConfigError(f"{path} line {number}: needs 'genotype' and '{column}' (has: {keys}); set --label-column")
        try:
            genotype = entry.parse(str(row["genotype"]).strip())
            value = float(row[column])
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{path} line {number}: {str(exc).splitlines()[0]}") from None
        if str(genotype) in seen:
            raise ConfigError(f"{path} line {number}: cell {genotype} is given twice")
        seen.add(str(genotype))
        cells.append(genotype)
        values.append(value)
    if len(cells) < 2:
        raise ConfigError(f"{path} holds {len(cells)} labelled cell(s); the ranking model needs at least 2")
    return cells, np.asarray(values, dtype=np.float64)
