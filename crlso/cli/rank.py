"""``crlso rank``: score a list of genotypes with a trained ranking model and write them ranked.

The model is the ranking model in the ``checkpoint.pt`` that ``crlso train`` writes (the model
``crlso rank-bench`` measures), loaded with ``weights_only=True``. Each row has ``score`` (higher is
better, whatever the label's direction: the cell's blended rank position among the model's
reference cells, in (0, 1]), ``predicted`` (the GNN ensemble's label value, in the label's units and
direction), ``uncertainty`` (sd of that over the ensemble members, >= 0) and the input ``line``;
``--top K`` keeps the best K. A checkpoint written before the ranking model existed is scored by
its ICNN / predictor heads as before (no uncertainty). ``--metric`` or ``--space`` naming another
than the checkpoint's is an error. Bad input lines are reported on stderr with their line
number; ``--on-error fail`` (default) stops before writing anything, ``--on-error skip`` ranks the
rest and also lists the skipped lines in the output folder's ``rank_errors.jsonl``. The
genotypes are read in the checkpoint's space; ``--space`` naming another one is an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from crlso.errors import ConfigError

ON_ERROR = ("fail", "skip")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("rank", help="rank genotypes (JSON/JSONL/text) by a trained latent model's predictions")
    parser.add_argument("input", help="genotypes: a JSON list, JSONL, or one canonical string a line")
    parser.add_argument("--checkpoint", required=True, help="checkpoint.pt written by `crlso train`")
    parser.add_argument("--out", required=True, help="ranked output: .csv, else JSONL")
    parser.add_argument("--format", default="auto", help="input format: auto, json, jsonl or text (default auto)")
    parser.add_argument("--space", default=None,
                        help="space of the genotypes (default: the checkpoint's; another space is an error)")
    parser.add_argument("--metric", default=None, help="label metric the model must have been trained on (default: any)")
    parser.add_argument("--top", type=int, default=None, help="write only the best K cells")
    parser.add_argument("--proxy-features", type=lambda text: tuple(p for p in text.split(",") if p), default=(),
                        help="comma-separated proxy cache files (needed when the model was trained with proxies)")
    parser.add_argument("--by", default=None, help="score to rank by: icnn, predictor or mean (default: mean if both heads, else the one present)")
    parser.add_argument("--on-error", default="fail", choices=ON_ERROR, help="bad input line: fail (default) or skip it")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from nasspace.atomic import write_text_atomic
    from crlso.models.checkpoints import load_checkpoint
    from crlso.ranking.genotype_lists import read_genotypes, write_ranking
    from crlso.ranking.scoring import SCORERS

    for name, other in (("input", args.input), ("--checkpoint", args.checkpoint)):
        if Path(args.out).resolve() == Path(other).resolve():
            raise ConfigError(f"--out {args.out} is the {name} file; writing the ranking there would overwrite it")
    if args.by is not None and args.by not in SCORERS:
        raise ConfigError(f"unknown --by {args.by!r}; valid: {', '.join(SCORERS)}")
    if args.top is not None and args.top < 1:
        raise ConfigError(f"--top must be an integer >= 1, got {args.top}")
    payload = load_checkpoint(args.checkpoint)
    space = payload["model_config"].get("space", "nb201")
    if args.metric is not None and payload["config"].get("metric") != args.metric:
        raise ConfigError(f"{args.checkpoint} holds a model of metric {payload['config'].get('metric')!r}, but --metric is "
                          f"{args.metric!r}; train a model on {args.metric}")
    if args.space is not None and args.space != space:
        raise ConfigError(f"{args.checkpoint} holds a model of the {space!r} space, but --space is {args.space!r}; "
                          f"rank {space} genotypes with it, or train a {args.space} model (crlso train --space {args.space})")
    entries, bad = read_genotypes(args.input, space=space, fmt=args.format)
    for item in bad:
        print(f"crlso rank: {args.input}: {item}", file=sys.stderr)
    if bad and args.on_error == "fail":
        raise ConfigError(f"{len(bad)} bad line(s) in {args.input} (first: line {bad[0].line}); nothing written; "
                          "use --on-error skip to rank the rest")
    if not entries:
        raise ConfigError(f"no genotype to rank in {args.input}")
    if "ranker" in payload:
        rows = _rank_with_model(args, space, entries)
    else:
        rows = _rank_with_heads(args, entries)
    if args.top is not None:
        rows = rows[: args.top]
    out = write_ranking(args.out, rows)
    print(f"ranked {len(entries)} genotypes{f', wrote the best {len(rows)}' if args.top else ''}; {len(bad)} bad line(s) skipped")
    if bad:
        import json

        errors = Path(out).with_name("rank_errors.jsonl")
        write_text_atomic(errors, "".join(json.dumps({"line": b.line, "text": b.text, "reason": b.reason}) + "\n" for b in bad))
        print(f"skipped lines: {errors.resolve()}")
    print(f"results: {Path(out).resolve()}")
    return 0


def _rank_with_model(args: argparse.Namespace, space: str, entries: list) -> list[dict]:
    import numpy as np

    from crlso.models.checkpoints import load_ranker
    from crlso.ranking.proxy_features import read_proxy_files

    if args.by is not None:
        raise ConfigError("--by picks a head of an old checkpoint; this one holds the ranking model (rank by its score)")
    ranker, config = load_ranker(args.checkpoint, space=space, metric=args.metric)
    proxies = read_proxy_files(args.proxy_features, space=space) if args.proxy_features else None
    genotypes = [g for _, g in entries]
    prediction = ranker.predict(ranker.featurize(genotypes, proxies))
    order = np.argsort(-prediction.score, kind="stable")
    label = config.get("label", {})
    print(f"model: {space}, label {label.get('name', config.get('metric'))!r} ({label.get('scale', '?')}, "
          f"{label.get('direction', '?')} is better); score: higher is better")
    return [{"rank": rank, "genotype": str(entries[i][1]), "score": round(float(prediction.score[i]), 6),
             "predicted": round(float(prediction.predicted[i]), 6), "uncertainty": round(float(prediction.uncertainty[i]), 6),
             "line": entries[i][0]}
            for rank, i in enumerate(order.tolist(), start=1)]


def _rank_with_heads(args: argparse.Namespace, entries: list) -> list[dict]:
    import numpy as np

    from crlso.models.checkpoints import load_models
    from crlso.ranking.scoring import score_genotypes

    models = load_models(args.checkpoint)
    scores = score_genotypes(models, [g for _, g in entries])
    by = args.by or ("mean" if "mean" in scores else next(iter(scores)))
    if by not in scores:
        raise ConfigError(f"--by {by} needs a head the checkpoint lacks; available: {', '.join(scores)}")
    order = np.argsort(-scores[by], kind="stable")
    rows = []
    for rank, i in enumerate(order.tolist(), start=1):
        line, genotype = entries[i]
        row = {"rank": rank, "genotype": str(genotype), "score": round(float(scores[by][i]), 4), "line": line}
        row.update({f"score_{name}": round(float(values[i]), 4) for name, values in scores.items() if name != by})
        rows.append(row)
    return rows
