"""``crlso report RUN_DIR``: a self-contained HTML report (and its PNGs) of a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from crlso.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("report", help="HTML report of a compare, search, hybrid, train or rank-bench folder, or a darts-backend run")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a crlso compare, search, hybrid, train or rank-bench folder, or a darts-backend run folder")
    parser.add_argument("--out", default=None, help="where report.html and the PNGs go (default RUN_DIR/report)")
    parser.add_argument("--no-latent", action="store_true", help="skip the latent map and predicted-vs-true sections")
    parser.add_argument("--train-model", action="store_true", help="pre-train the VAE if it is not cached (minutes)")
    parser.add_argument("--map-points", type=int, default=0, help="cells drawn on the latent map, a seeded subset (default 0: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the subset and of the predictor (default 0)")
    parser.add_argument("--cache-dir", default=None, help="cache of pre-trained models (default: the run's, else $CRLSO_CACHE_DIR or ~/.cache/crlso)")
    parser.add_argument("--data-dir", default=None, help="folder of the benchmark files (default: the run's)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from crlso.report import ReportOptions, build_report

    if args.map_points < 0:
        raise ConfigError(f"--map-points must be >= 0, got {args.map_points}")
    options = ReportOptions(latent=not args.no_latent, train_model=args.train_model, cache_dir=args.cache_dir,
                            data_dir=args.data_dir, map_points=args.map_points, seed=args.seed, progress=True)
    page = build_report(Path(args.run_dir), out_dir=args.out, options=options)
    print(f"report: {page.resolve()} (PNGs beside it)")
    return 0
