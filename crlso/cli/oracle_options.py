"""Flags of the training oracle and of parallel evaluation, shared by `search`, `compare`, `hybrid`, `oracle-bench`."""

from __future__ import annotations

import argparse
from typing import Any
from crlso.errors import ConfigError

PROXY_FLAGS = ("epochs", "images", "channels", "cells", "batch_size", "valid_fraction", "lr", "seed", "threads",
               "num_gpus", "device", "limit_test")


def add_proxy_options(parser: argparse.ArgumentParser, *, final: bool = False) -> None:
    """``--preset`` and the per-setting overrides of a training budget (`crlso.oracles.TrainProxy`)."""
    what = "final training" if final else "proxy training of each queried cell"
    group = parser.add_argument_group(f"{what} (flags override the preset)")
    group.add_argument("--preset", choices=("cpu", "paper"), default="cpu",
                       help="cpu: tiny CPU budget (default); paper: the GPU-sized budget (crlso.oracles lists both)")
    group.add_argument("--proxy-data", default=None, metavar="PATH",
                       help="train images: CIFAR-10 archive, image folder or tar (e.g. data/cifar10-jpg.tar), or synthetic")
    group.add_argument("--proxy-epochs", type=int, default=None)
    group.add_argument("--proxy-images", type=int, default=None, help="train images drawn (the held-out share is carved from them)")
    group.add_argument("--proxy-channels", type=int, default=None, help="network C")
    group.add_argument("--proxy-cells", type=int, default=None, help="nb201: cells per stage; darts: cells in all")
    group.add_argument("--proxy-batch-size", type=int, default=None)
    if not final:
        group.add_argument("--proxy-valid-fraction", type=float, default=None, help="held-out share scored (default 0.25 cpu, 0.5 paper)")
    else:
        group.add_argument("--proxy-limit-test", type=int, default=None, help="test images scored (default: 2,000 cpu, all paper)")
    group.add_argument("--proxy-lr", type=float, default=None)
    group.add_argument("--proxy-seed", type=int, default=None, help="seed of every training (default 0)")
    group.add_argument("--proxy-threads", type=int, default=None, help="torch threads per training (default 1)")
    group.add_argument("--proxy-gpus", dest="proxy_num_gpus", type=float, default=None,
                       help="GPUs a Ray task reserves per training (default 0; 0.5 shares a GPU by two)")
    group.add_argument("--proxy-device", default=None, help="auto (default), cpu, cuda or cuda:N")


def proxy_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The proxy flags the user gave, keyed by `TrainProxy` field."""
    given = {name: getattr(args, f"proxy_{name}", None) for name in PROXY_FLAGS}
    given["data"] = args.proxy_data
    return {k: v for k, v in given.items() if v is not None}


def oracle_from_run(data: dict[str, Any]) -> dict[str, Any]:
    """A run's ``config.json`` read back with ``--config``: its oracle entry (a mapping) becomes ``--oracle NAME``
    plus the entry itself (``oracle_entry``), so the rerun uses the oracle exactly as it ran."""
    data = dict(data)
    if isinstance(data.get("oracle"), dict):
        data["oracle_entry"] = data["oracle"]
        data["oracle"] = data["oracle"].get("name")
    return data


def add_oracle_options(parser: argparse.ArgumentParser, *, executor: bool = True) -> None:
    """``--oracle``, the proxy flags, the seconds budget, the batch, and (``executor``) where evaluations run."""
    parser.add_argument("--oracle", default="table", metavar="NAME",
                        help="table: the benchmark (or, darts space, the supernet; default); train: train each cell at a "
                             "proxy budget; or any oracle registered in Python (crlso.register_oracle)")
    parser.add_argument("--budget-seconds", type=float, default=None,
                        help="with --oracle train: also stop once the measured training seconds reach this")
    parser.add_argument("--batch", type=int, default=None,
                        help="proposals evaluated per round (default: 4 with --oracle train, else the searcher's own); "
                             "part of the run's config, so results do not depend on --workers")
    if executor:
        parser.add_argument("--executor", choices=("local", "ray"), default="local",
                            help="with --oracle train: where a round's trainings run (local processes, or Ray tasks)")
        parser.add_argument("--workers", type=int, default=1, help="local worker processes, or CPUs of a local Ray instance (default 1)")
        parser.add_argument("--address", default=None, help="with --executor ray: join this cluster (e.g. auto); default starts a local one")
    add_proxy_options(parser)
    parser.set_defaults(oracle_entry=None)  # a --config run file's oracle entry (`oracle_from_run`)


def resolve_oracle(args: argparse.Namespace, space: str) -> tuple[dict[str, Any] | None, int | None]:
    """``(oracle entry of the run config or None, batch)`` from the flags; checked before any work.

    Raises:
        ValueError: training flags without ``--oracle train``, no ``--proxy-data``, or a setting out of range.
    """
    from crlso.oracles import proxy_preset

    batch = args.batch
    if batch is not None and batch < 1:
        raise ConfigError(f"--batch must be >= 1, got {batch}")
    from crlso.oracles.registry import oracle_entry, parse_oracle

    entry = getattr(args, "oracle_entry", None)
    if entry is not None and args.oracle == entry.get("name"):  # a --config run file's oracle, as it ran
        if proxy_overrides(args):
            raise ConfigError("--proxy-* flags cannot change the training oracle recorded in a --config run file")
        trains = entry.get("name") == "train"
        return parse_oracle(entry, space=space)[1].to_json(), (batch or 4) if trains else batch

    name = args.oracle or "table"
    if name == "supernet":
        raise ConfigError("the supernet oracle comes with --supernet DIR (crlso hybrid), not --oracle")
    entry = oracle_entry(name)  # an unknown name lists the registered ones
    if name != "train":
        if args.budget_seconds is not None or proxy_overrides(args):
            raise ConfigError("--budget-seconds and --proxy-* flags are for --oracle train")
        return (None if name == "table" else entry.spec.from_json({"name": name}).to_json()), batch
    if args.budget_seconds is not None and not args.budget_seconds > 0:
        raise ConfigError(f"--budget-seconds must be > 0, got {args.budget_seconds}")
    overrides = proxy_overrides(args)
    if "data" not in overrides:
        raise ConfigError("--oracle train needs --proxy-data PATH (a CIFAR-10 archive, image folder or tar, or synthetic)")
    return proxy_preset(args.preset, space, **overrides).to_json(), batch or 4


def oracle_metric(oracle: dict[str, Any] | None, given: str | None) -> str | None:
    """The search metric an oracle entry answers: the training oracle's, a user oracle's (``given``, else its
    name), or None for the table (its metric comes from the table's spec)."""
    if oracle is None:
        return None
    if oracle["name"] == "train":
        from crlso.oracles.training import TRAIN_METRIC

        return TRAIN_METRIC
    return given or oracle["name"]


def evaluation_executor(args: argparse.Namespace) -> Any:
    """The executor of a run's evaluations (None: in this process, when one local worker is asked for)."""
    from crlso.execution.executors import create_executor

    if args.executor == "local" and args.workers == 1 and not args.address:
        return None
    return create_executor(args.executor, workers=args.workers, address=args.address)
