"""``darts-backend``: run a supernet search, train a genotype's network, or time a supernet step.

    darts-backend search --method single-darts|darts|pc-darts|ms-darts|spos --space nb201|darts --data PATH --out DIR
        [--seed S] [--preset paper|cpu] [--channels C --cells N --epochs E --batch-size B --limit-train N]
        [--partial-channels K --edge-normalization --option KEY=VALUE ...] [--resume]
        (spos: --option select_candidates=K --option select_calibration=N --option select_images=N)
    darts-backend search --method dnad|fx-darts --space darts --data PATH --out DIR
        [--nodes K --ops A,B --warmup-epochs W --prune-every P --milestone F --option KEY=VALUE ...
         --teacher FILE --teacher-checkpoint PT ...]
        [--heldout-fraction F --pareto-axis params|flops]
    darts-backend train --genotype FILE --data PATH --out DIR [--index I --valid-fraction F ...]
    darts-backend retrain-set --run DIR --data PATH [--epochs E --channels C --cells N --valid-fraction F
        --pareto-axis params|flops ...]
    darts-backend bench [--method M --channels C --cells N --batch-size B --steps S --threads T --device D
        --partial-channels K --edge-normalization]

Every training command takes ``--compile`` (``torch.compile``, off by default) and ``--bf16/--no-bf16``
(bfloat16 autocast on CUDA, on by default, ignored on CPU); CUDA runs also turn on cuDNN autotuning.
    darts-backend zc --space nb201|darts (--cells FILE | --all) --proxies synflow,jacov,... --data PATH --out FILE
        [--batch-size B --seed S --channels C --network-cells N --cache-dir DIR --threads T]
    darts-backend evaluator-bench --evaluator mixture:RUN --evaluator single-path:RUN --evaluator zc:synflow ...
        (--cells N [--seed S] | --cells-file FILE) --out FILE [--dataset cifar10 --metric valid_acc --images I
         --calibration-images C --zc-data PATH --cache-dir DIR --threads T]

Single-genotype searches run through `darts_backend.runs.search`, set-emitting ones (``dnad``,
``fx-darts``) through `darts_backend.runs.set_search`, training through `darts_backend.runs.train`, retraining a
set through `darts_backend.runs.retrain`, zero-cost passes through `darts_backend.runs.zero_cost`, the evaluator bench
through `darts_backend.runs.evaluator_bench`.
Flags left unset fall back to the ``--preset`` (`darts_backend.runs.presets`: ``paper`` is each
method's published setting, ``cpu`` a CPU-sized run of it), else to the run config's defaults.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

from darts_backend.evaluate import ZeroCostConfig, get_proxy, list_proxies
from darts_backend.runs.bench import BenchConfig, benchmark_throughput
from darts_backend.runs.pareto import COST_AXES
from darts_backend.runs.presets import PRESETS, preset_values
from darts_backend.runs.retrain import retrain_set
from darts_backend.runs.search import SearchRunConfig, run_search
from darts_backend.spaces import list_backend_spaces
from darts_backend.runs.set_search import METHODS as SET_METHODS
from darts_backend.runs.set_search import SPACES as SET_SPACES
from darts_backend.runs.set_search import DartsSearchConfig, run_darts_search
from darts_backend.runs.train import TrainConfig, run_train
from darts_backend.runs.zero_cost import read_cells, run_zero_cost
from darts_backend.searchers import list_searchers
from nasspace.config_file import ConfigFileError, add_config_flag, apply_config_to_command
from nasspace.errors import NasSpaceError, broken_pipe_exit, describe_os_error
from nasspace.tracking import require_tensorboard
from nasspace.space import get_space
from darts_backend.errors import ConfigError, DartsBackendError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (every optional flag defaults to None: unset means the config's default)."""
    parser = argparse.ArgumentParser(prog="darts-backend", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_search_parser(sub)
    _add_train_parser(sub)
    _add_retrain_parser(sub)
    _add_bench_parser(sub)
    _add_zc_parser(sub)
    _add_evaluator_bench_parser(sub)
    _add_gpu_check_parser(sub)
    return parser


def _add_speed_flags(parser: argparse.ArgumentParser) -> None:
    """``--compile`` and ``--bf16/--no-bf16``, shared by every command that trains."""
    parser.add_argument("--compile", action="store_true", default=None,
                        help="torch.compile the network (off by default; minutes of compilation on CPU)")
    parser.add_argument("--bf16", dest="mixed_precision", action=argparse.BooleanOptionalAction, default=None,
                        help="bfloat16 autocast of the forward pass on CUDA (default on; ignored on CPU)")


def _add_search_parser(sub: Any) -> None:
    defaults = SearchRunConfig()
    search = sub.add_parser("search", help="run a supernet search and write DIR/genotype.json (or genotypes.json)")
    search.add_argument("--method", required=True, choices=list_searchers())
    search.add_argument("--space", default=defaults.space, choices=sorted(set(list_backend_spaces()) | set(SET_SPACES)))
    search.add_argument("--data", required=True,
                        help="CIFAR-10 python archive (tar.gz or folder), image folder/tar (train/<class>/*.jpg), or 'synthetic'")
    search.add_argument("--out", required=True, help="run folder")
    search.add_argument("--preset", choices=PRESETS,
                        help="paper: the method's published setting; cpu: a CPU-sized run of it (flags override)")
    search.add_argument("--seed", type=int, help=f"default {defaults.seed}")
    search.add_argument("--channels", type=int, help=f"supernet C (default {defaults.channels})")
    search.add_argument("--cells", type=int, help=f"cells per stage N (default {defaults.cells})")
    search.add_argument("--epochs", type=int, help=f"default {defaults.epochs}")
    search.add_argument("--batch-size", type=int, help=f"default {defaults.batch_size}")
    search.add_argument("--limit-train", type=int, help="use a random subset of N training images")
    search.add_argument("--valid-fraction", type=float,
                        help=f"held-out share for bi-level methods (default {defaults.valid_fraction})")
    search.add_argument("--device", help="auto (default), cpu, cuda")
    search.add_argument("--threads", type=int,
                        help="torch CPU threads (default: torch's choice, every core, as for all network training; "
                             "crlso's table searches default to 1, what their small models run fastest on)")
    search.add_argument("--partial-channels", type=int,
                        help="PC-DARTS's K: 1/K of the channels enter the ops (default: 4 for pc-darts, else 1)")
    search.add_argument("--edge-normalization", action=argparse.BooleanOptionalAction, default=None,
                        help="PC-DARTS's edge betas (default: on for pc-darts, else off)")
    search.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    search.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    search.add_argument("--tensorboard", metavar="DIR",
                        help="log each epoch's losses, accuracies and alphas to TensorBoard event files in DIR "
                             "(needs pip install tensorboard)")
    # set-emitting searches (dnad, fx-darts) on the darts space
    search.add_argument("--nodes", type=int, help="intermediate nodes per cell (darts space; default 4)")
    search.add_argument("--ops", help="comma-separated candidate ops (darts space; default: the method's set)")
    search.add_argument("--warmup-epochs", type=int, help="epochs before shrinking starts")
    search.add_argument("--prune-every", type=int, help="steps between deletion checks")
    search.add_argument("--milestone", type=float, help="snapshot at every drop of this fraction of params (0: off)")
    search.add_argument("--option", dest="options", action="append", metavar="KEY=VALUE",
                        help="override a field of the method's config (repeatable), e.g. gamma_init=0.1, "
                             "samples=5 (ms-darts), arch_warmup_epochs=15 (pc-darts)")
    search.add_argument("--teacher", help="teacher genotype JSON (needs --teacher-checkpoint; default: the checkpoint's)")
    search.add_argument("--teacher-checkpoint", help="teacher weights, a 'train' checkpoint.pt (enables distillation)")
    search.add_argument("--teacher-index", type=int, help="genotype index in --teacher (a list)")
    search.add_argument("--teacher-channels", type=int, help="teacher C (default 16)")
    search.add_argument("--teacher-cells", type=int, help="teacher cells for darts genotypes (default 8)")
    search.add_argument("--heldout-fraction", type=float,
                        help="dnad/fx-darts: share of the training images held out to score each snapshot (default 0.1)")
    search.add_argument("--pareto-axis", choices=list(COST_AXES),
                        help="dnad/fx-darts: cost the set is Pareto-filtered on against held-out accuracy (default params)")
    _add_speed_flags(search)
    # config.json of a search run: these keys are what the run resolved or measured, not options
    add_config_flag(search, ignored=("optim", "searcher", "resolved_device", "resolved_threads", "resolved_autocast",
                                     "train_images", "valid_images", "heldout_images"))
    search.set_defaults(channels_last=None)  # a run config field without a flag (a --config file may set it)


def _add_train_parser(sub: Any) -> None:
    defaults = TrainConfig()
    train = sub.add_parser("train", help="train one discrete network from a genotype file (evaluation step)",
                           description="Train the network of one genotype (nb201, darts or flex) on the train split "
                           "and test it every epoch; writes DIR/result.json (accuracies in percent), metrics.jsonl, "
                           "checkpoint.pt. Flags left out take the defaults shown.")
    train.add_argument("--genotype", required=True, help="genotype JSON, or genotypes.json (use --index)")
    train.add_argument("--index", type=int, help=f"which genotype of a list; -1: the last (default {defaults.index})")
    train.add_argument("--data", required=True,
                       help="CIFAR-10 python archive (tar.gz or folder), image folder/tar (train/<class>/*.jpg), or 'synthetic'")
    train.add_argument("--out", required=True, help="run folder")
    numbers = {
        "--seed": f"seeds weights, data order and augmentation (default {defaults.seed})",
        "--channels": f"network C (default {defaults.channels})",
        "--cells": f"cells in all, for a darts genotype (default {defaults.cells}); a flex genotype has its own cells",
        "--epochs": f"default {defaults.epochs}",
        "--batch-size": f"default {defaults.batch_size}",
        "--limit-train": "train on a random subset of N images (default: all)",
        "--limit-test": "test on the first N test images (default: all)",
        "--threads": "torch CPU threads (default: torch's choice)",
    }
    for flag, text in numbers.items():
        train.add_argument(flag, type=int, help=text)
    train.add_argument("--lr", type=float, help=f"SGD learning rate, cosine-annealed (default {defaults.lr})")
    train.add_argument("--lr-min", type=float, help=f"final learning rate of the cosine schedule (default {defaults.lr_min})")
    train.add_argument("--weight-decay", type=float, help=f"default {defaults.weight_decay}")
    train.add_argument("--valid-fraction", type=float,
                       help="share of the training images held out for valid_acc (default 0: none)")
    train.add_argument("--device", help="auto (default), cpu, cuda")
    _add_speed_flags(train)
    train.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _add_retrain_parser(sub: Any) -> None:
    retrain = sub.add_parser("retrain-set", help="train every member of a dnad/fx-darts set and attach its held-out "
                                                 "accuracy to DIR/genotypes.json (rerun to resume)")
    retrain.add_argument("--run", required=True, help="the dnad/fx-darts run folder (holds genotypes.json)")
    retrain.add_argument("--data", required=True)
    for flag in ("--seed", "--channels", "--cells", "--epochs", "--batch-size", "--limit-train", "--limit-test", "--threads"):
        retrain.add_argument(flag, type=int)
    for flag in ("--lr", "--lr-min", "--weight-decay"):
        retrain.add_argument(flag, type=float)
    retrain.add_argument("--valid-fraction", type=float, default=0.1,
                         help="share of the training images held out for the accuracy attached (default 0.1)")
    retrain.add_argument("--pareto-axis", choices=list(COST_AXES), help="default: the run's (else params)")
    retrain.add_argument("--all-snapshots", action="store_true",
                         help="retrain every snapshot (snapshots.json, into DIR/retrain_snapshots/), not only the set")
    retrain.add_argument("--device")
    _add_speed_flags(retrain)
    retrain.add_argument("--no-progress", action="store_true")


def _add_bench_parser(sub: Any) -> None:
    bench = sub.add_parser("bench", help="time full search steps on random 32x32 batches")
    defaults = BenchConfig()
    bench.add_argument("--method", choices=list_searchers(), help=f"default {defaults.method}")
    bench.add_argument("--channels", type=int, help=f"default {defaults.channels}")
    bench.add_argument("--cells", type=int, help=f"default {defaults.cells}")
    bench.add_argument("--batch-size", type=int, help=f"default {defaults.batch_size}")
    bench.add_argument("--steps", type=int, help=f"timed steps (default {defaults.steps})")
    bench.add_argument("--warmup", type=int, help=f"untimed steps (default {defaults.warmup})")
    bench.add_argument("--device", help="auto (default), cpu, cuda")
    bench.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    bench.add_argument("--partial-channels", type=int, help="PC-DARTS's K (default: the method's)")
    bench.add_argument("--space", choices=["nb201", "darts"], help="supernet (default nb201; darts: --cells counts all cells)")
    bench.add_argument("--cpu-bf16", action="store_true", default=None,
                       help="bf16 autocast on CPU too (a stand-in for CUDA's; slower than fp32 here)")
    bench.add_argument("--fp32-mixing", action=argparse.BooleanOptionalAction, default=None,
                       help="weigh and sum the ops' outputs in float32 under autocast (default off)")
    bench.add_argument("--edge-normalization", action=argparse.BooleanOptionalAction, default=None,
                       help="PC-DARTS's edge betas (default: the method's)")
    _add_speed_flags(bench)


def _add_zc_parser(sub: Any) -> None:
    zc = sub.add_parser("zc", help="zero-cost proxy scores of many cells (cached per cell; rerun to resume)")
    defaults = ZeroCostConfig()
    zc.add_argument("--space", default=defaults.space, choices=list_backend_spaces())
    cells = zc.add_mutually_exclusive_group(required=True)
    cells.add_argument("--cells", dest="cells_file", metavar="FILE",
                       help="cells to score: JSON list, JSONL, or one canonical string per line")
    cells.add_argument("--all", action="store_true", help="every cell of the space (nb201: 15,625)")
    zc.add_argument("--proxies", required=True, help=f"comma-separated, from: {','.join(list_proxies())}")
    zc.add_argument("--data", required=True,
                    help="images for the fixed batch (labels are never read): CIFAR-10 archive, image tar/folder, or 'synthetic'")
    zc.add_argument("--out", required=True, help="result JSON (scores per cell, setting, seconds per cell)")
    zc.add_argument("--split", help=f"split the batch is drawn from (default {defaults.split})")
    zc.add_argument("--batch-size", type=int, help=f"images in the fixed batch (default {defaults.batch_size})")
    zc.add_argument("--seed", type=int, help=f"seeds the batch, the random targets and the init (default {defaults.seed})")
    zc.add_argument("--channels", type=int, help=f"network C (default {defaults.channels})")
    zc.add_argument("--network-cells", dest="cells", type=int,
                    help="nb201: cells per stage (default 5); darts: cells in all (default 8)")
    zc.add_argument("--cache-dir", help="cache root (default $CRLSO_CACHE_DIR, else ~/.cache/crlso)")
    zc.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    zc.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _add_evaluator_bench_parser(sub: Any) -> None:
    bench = sub.add_parser("evaluator-bench", help="Kendall tau and Spearman of evaluators against the NB201 table, side by side")
    bench.add_argument("--evaluator", dest="evaluators", action="append", required=True, metavar="KIND:TARGET",
                       help="mixture:RUN_DIR, single-path:RUN_DIR, zc:PROXY or zc:PROXY+PROXY (a rank-average) (repeatable)")
    cells = bench.add_mutually_exclusive_group(required=True)
    cells.add_argument("--cells", dest="num_cells", type=int, metavar="N", help="N distinct uniform NB201 cells from --seed")
    cells.add_argument("--cells-file", metavar="FILE", help="NB201 cells: JSON list, JSONL, or one string per line")
    bench.add_argument("--seed", type=int, default=0, help="seed of the cells (default 0)")
    bench.add_argument("--out", required=True, help="result JSON (per-cell scores, correlations, seconds)")
    bench.add_argument("--dataset", default="cifar10", help="NB201 dataset (default cifar10)")
    bench.add_argument("--metric", default="valid_acc", help="table metric to correlate with (default valid_acc)")
    bench.add_argument("--images", type=int, default=512, help="supernet evaluators: held-out images scored (default 512)")
    bench.add_argument("--calibration-images", type=int, default=256,
                       help="single-path: held-out images re-estimating BN per cell (default 256)")
    bench.add_argument("--zc-data", default="synthetic", help="zc: images of the fixed batch (labels never read; default synthetic)")
    bench.add_argument("--zc-batch-size", type=int, default=64, help="zc: images in the fixed batch (default 64)")
    bench.add_argument("--cache-dir", help="zc cache root (default $CRLSO_CACHE_DIR, else ~/.cache/crlso)")
    bench.add_argument("--device", default="auto", help="auto (default), cpu, cuda")
    bench.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")


def _add_gpu_check_parser(sub: Any) -> None:
    from darts_backend.gpu_check.plan import SECTIONS

    check = sub.add_parser(
        "gpu-check", help="check and measure everything a GPU changes, in one time-boxed command (8 min on an H100)",
        epilog="example: darts-backend gpu-check --out runs/gpu-check   (on the GPU slot; "
               "--quick --device cpu runs the same steps at toy sizes)")
    check.add_argument("--out", required=True, help="folder of gpu_check.json, gpu_check.md and the sections' runs")
    check.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="cuda (default) or cpu")
    check.add_argument("--quick", action="store_true", help="toy sizes: seconds per section on a CPU")
    check.add_argument("--images", default=None,
                       help="CIFAR-10 archive or image tar (default data/cifar10-jpg.tar when present, else synthetic)")
    check.add_argument("--budget", type=float, default=480.0, help="seconds for the whole check (default 480)")
    check.add_argument("--skip", default="", help=f"comma-separated sections not to run, of: {', '.join(SECTIONS)}")


def _gpu_check(args: argparse.Namespace) -> int:
    from darts_backend.gpu_check.harness import run_gpu_check
    from darts_backend.gpu_check.plan import GpuCheckConfig

    config = GpuCheckConfig(out=args.out, device=args.device, quick=args.quick, images=args.images,
                            budget_seconds=args.budget, skip=tuple(s for s in args.skip.split(",") if s))
    document = run_gpu_check(config)
    statuses = ", ".join(f"{name} {s['status']}" for name, s in document["sections"].items())
    print(f"gpu-check: {statuses}; {document['seconds']:.0f} s; results in {args.out}/gpu_check.md and gpu_check.json")
    return 0


def _overlay(config: Any, args: argparse.Namespace) -> Any:
    """`config` with every dataclass field that was given on the command line replaced."""
    given = {f.name: getattr(args, f.name) for f in fields(config) if getattr(args, f.name, None) is not None}
    if "options" in given:
        given["options"] = tuple(given["options"])
    return replace(config, **given)


def _search_config(cls: type, args: argparse.Namespace) -> Any:
    """The run config: the preset's values (if any), then every flag given; built once, so validated once.

    ``--option`` flags come after the preset's options (a later KEY wins); options that already start
    with the preset's (a run's config.json passed back as ``--config``) are not given them twice.
    """
    values = preset_values(args.preset, args.method, args.space) if args.preset else {}
    names = {f.name for f in fields(cls)}
    given = {k: getattr(args, k) for k in names if getattr(args, k, None) is not None}
    if "options" in given:
        preset_options = tuple(values.get("options", ()))
        if tuple(given["options"][:len(preset_options)]) != preset_options:
            given["options"] = preset_options + tuple(given["options"])
    if args.mixed_precision is not None:  # a field of the method's config: an option, recorded with the others
        given["options"] = tuple(given.get("options", values.get("options", ()))) + \
            (f"mixed_precision={str(args.mixed_precision).lower()}",)
    return cls(**{**values, **given, "preset": args.preset})


def _search(args: argparse.Namespace) -> int:
    require_tensorboard(args.tensorboard)  # before the data is read
    config = _search_config(SearchRunConfig, args)
    result = run_search(config, args.out, resume=args.resume, progress=not args.no_progress, tensorboard=args.tensorboard)
    print(f"genotype: {result.genotype}")
    if config.space == "nb201":
        acc = "n/a (NB201 table not present)" if result.nb201_test_acc is None else f"{result.nb201_test_acc:.2f}"
        print(f"NB201 cifar10 test_acc: {acc}")
    extra = ", selection.json" if config.method == "spos" else ""
    print(f"results in {result.out_dir}: genotype.json, alphas.json, metrics.jsonl, result.json, checkpoint.pt{extra}")
    return 0


def _set_search(args: argparse.Namespace) -> int:
    if args.space not in SET_SPACES:
        raise ConfigError(f"method {args.method!r} searches the darts space only (--space darts)")
    if args.partial_channels is not None or args.edge_normalization is not None:
        raise ConfigError(f"--partial-channels and --edge-normalization are not available with {args.method!r} "
                          "(its per-cell supernet has no PC-DARTS options)")
    config = _search_config(DartsSearchConfig, args)
    require_tensorboard(args.tensorboard)  # before the data is read
    entries = run_darts_search(config, args.out, resume=args.resume, progress=not args.no_progress,
                               tensorboard=args.tensorboard)
    for i, e in enumerate(entries):
        heldout = "n/a" if e["heldout_acc"] is None else f"{100 * e['heldout_acc']:.2f}%"
        print(f"[{i}] params {e['params']:.4f}M  flops {e['flops']:.2f}M  held-out acc {heldout}  ({e['reason']})")
    print(f"results in {args.out}: genotypes.json ({len(entries)} on the held-out Pareto front), snapshots.json, "
          "pareto.png, metrics.jsonl, checkpoint.pt")
    return 0


def _check_cells_flag(args: argparse.Namespace, genotype_file: str, index: int | None) -> None:
    """Refuse ``--cells`` that a flex genotype would not honour (its cells are its own).

    Raises:
        ValueError: ``--cells`` differs from the flex genotype's number of cells.
    """
    if args.cells is None:
        return
    from darts_backend.runs.train import load_genotype_file

    genotype = load_genotype_file(genotype_file, 0 if index is None else index)
    cells = getattr(genotype, "cells", None)
    if genotype.space_name == "flex" and cells is not None and len(cells) != args.cells:
        raise ConfigError(f"--cells {args.cells} does not apply to this flex genotype: it fixes its own {len(cells)} "
                          f"cells (leave --cells out, or give --cells {len(cells)})")


def _train(args: argparse.Namespace) -> int:
    _check_cells_flag(args, args.genotype, args.index)
    result = run_train(_overlay(TrainConfig(), args), args.out, resume=args.resume, progress=not args.no_progress)
    print(f"params {result['params']:.4f}M  flops {result['flops']:.2f}M  test_acc {result['test_acc_percent']:.2f}%")
    print(f"results in {args.out}: result.json, metrics.jsonl, checkpoint.pt")
    return 0


def _retrain_set(args: argparse.Namespace) -> int:
    set_file = "snapshots.json" if args.all_snapshots else "genotypes.json"
    _check_cells_flag(args, f"{args.run}/{set_file}", 0)
    entries = retrain_set(args.run, _overlay(TrainConfig(), args), cost=args.pareto_axis, set_file=set_file,
                          progress=not args.no_progress)
    for i, e in enumerate(entries):
        mark = "*" if e["retrained_front"] else " "
        print(f"{mark}[{i}] params {e['params']:.4f}M  flops {e['flops']:.2f}M  retrained held-out acc "
              f"{100 * e['retrained_acc']:.2f}%  test acc {100 * e['retrained_test_acc']:.2f}%")
    print(f"accuracies attached to {args.run}/{set_file} (* = Pareto front); pareto.png redrawn; "
          f"member runs in {args.run}/{entries[0]['retrain']['dir'].split('/')[0]}/")
    return 0


def _bench(args: argparse.Namespace) -> int:
    stats = benchmark_throughput(_overlay(BenchConfig(), args))
    memory = (f"peak CUDA memory {stats['peak_memory_mb']:.1f} MB (max_memory_allocated)" if stats["cuda"] else
              f"peak memory: CUDA only; process peak RSS {stats['peak_memory_mb']:.1f} MB")
    print(f"{stats['images_per_s']:.1f} img/s ({stats['seconds_per_step']:.3f} s/step wall, "
          f"{stats['cpu_seconds_per_step']:.3f} s/step CPU, {int(stats['threads'])} threads); {memory}")
    return 0


def _zc(args: argparse.Namespace) -> int:
    config = _overlay(ZeroCostConfig(space=args.space, data=args.data), args)
    _check_output_path(args.out, args.cells_file)
    proxies = [p.strip() for p in args.proxies.split(",") if p.strip()]
    for name in proxies:
        get_proxy(name)
    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    if args.all and config.space != "nb201":
        raise ConfigError(f"--all enumerates the nb201 space only; give --cells FILE for {config.space}")
    genotypes = list(get_space(config.space).enumerate()) if args.all else read_cells(args.cells_file, config.space)
    result = run_zero_cost(config, genotypes, proxies, args.out, cache_dir=args.cache_dir, progress=not args.no_progress)
    for proxy in proxies:
        timing = result.seconds_per_cell.get(proxy)
        spent = (f"{timing:.3f} s/cell wall, {result.cpu_seconds_per_cell[proxy]:.3f} CPU-s/cell over "
                 f"{result.computed[proxy]} computed" if timing is not None else "all cached")
        print(f"{proxy}: {spent}")
    print(f"results in {args.out} ({len(genotypes)} cells)")
    return 0


def _check_output_path(out: str, cells_file: str | None) -> None:
    """Refuse an empty ``--out`` and one that names the ``--cells`` input (it would be overwritten)."""
    from pathlib import Path

    if not out.strip():
        raise ConfigError("--out must name a file, got an empty path")
    if cells_file is not None and Path(out).resolve() == Path(cells_file).resolve():
        raise ConfigError(f"--out {out} is also the cells input; writing the results there would overwrite it")


def _evaluator_bench(args: argparse.Namespace) -> int:
    from darts_backend.runs import evaluator_bench as eb
    from darts_backend.runs.files import write_json
    from nasspace.benchmarks.nb201 import NB201Table

    _check_output_path(args.out, args.cells_file)
    specs = [eb.parse_evaluator(text) for text in args.evaluators]
    if len({s.name for s in specs}) != len(specs):
        raise ConfigError(f"an evaluator is listed twice: {', '.join(args.evaluators)}")
    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    cells = eb.sample_cells(args.num_cells, args.seed) if args.num_cells is not None else read_cells(args.cells_file, "nb201")
    truth_of = NB201Table(args.dataset).metric_function(args.metric)
    truth = [truth_of(g) for g in cells]
    scorers = {s.name: eb.build_scorer(s, images=args.images, calibration_images=args.calibration_images,
                                       zc_data=args.zc_data, zc_batch_size=args.zc_batch_size, cache_dir=args.cache_dir,
                                       device=args.device) for s in specs}
    results = eb.bench_evaluators(cells, truth, scorers)
    settings = {k: getattr(args, k) for k in ("dataset", "metric", "seed", "num_cells", "cells_file", "images",
                                              "calibration_images", "zc_data", "zc_batch_size")}
    write_json(args.out, {"settings": settings,
                          "summary": {n: {k: v for k, v in r.items() if k != "scores"} for n, r in results.items()},
                          "cells": [{"genotype": str(g), args.metric: t, **{n: r["scores"][i] for n, r in results.items()}}
                                    for i, (g, t) in enumerate(zip(cells, truth))]})
    print(eb.format_table(results))
    print(f"results in {args.out} ({len(cells)} cells, NB201 {args.dataset} {args.metric})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 on a bad option or input, with a one-line error).

    Operating-system errors (read-only folder, full disk, ``--out`` naming a file) are one line too,
    naming the path and the cause.
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:  # --config FILE: its values become the command's defaults, under the flags given
        apply_config_to_command(parser, argv)
    except ConfigFileError as exc:
        print(f"darts-backend: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    commands = {"train": _train, "zc": _zc, "evaluator-bench": _evaluator_bench, "retrain-set": _retrain_set,
                "bench": _bench, "gpu-check": _gpu_check, "search": _set_search if getattr(args, "method", None) in SET_METHODS else _search}
    try:
        code = commands[args.command](args)
        sys.stdout.flush()  # a reader that went away shows here, inside the handling below, not at exit
        return code
    except BrokenPipeError:  # the reader of stdout went away (`darts-backend ... | head`): stop quietly
        return broken_pipe_exit()
    except (DartsBackendError, NasSpaceError, ValueError) as exc:
        print(f"darts-backend: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"darts-backend: error: {describe_os_error(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
