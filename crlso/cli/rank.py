"""``crlso rank``: score a list of genotypes with a trained latent model and write them ranked.

The model is the ``checkpoint.pt`` that ``crlso train`` writes (VAE + ICNN + GNN predictor),
loaded with ``weights_only=True``. Bad input lines are reported on stderr with their line
number; ``--on-error fail`` (default) stops before writing anything, ``--on-error skip`` ranks the
rest and also lists the skipped lines in the output folder's ``rank_errors.jsonl``. The
genotypes are read in the checkpoint's space; ``--space`` naming another one is an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ON_ERROR = ("fail", "skip")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("rank", help="rank genotypes (JSON/JSONL/text) by a trained latent model's predictions")
    parser.add_argument("input", help="genotypes: a JSON list, JSONL, or one canonical string a line")
    parser.add_argument("--checkpoint", required=True, help="checkpoint.pt written by `crlso train`")
    parser.add_argument("--out", required=True, help="ranked output: .csv, else JSONL")
    parser.add_argument("--format", default="auto", help="input format: auto, json, jsonl or text (default auto)")
    parser.add_argument("--space", default=None,
                        help="space of the genotypes (default: the checkpoint's; another space is an error)")
    parser.add_argument("--by", default=None, help="score to rank by: icnn, predictor or mean (default: mean if both heads, else the one present)")
    parser.add_argument("--on-error", default="fail", choices=ON_ERROR, help="bad input line: fail (default) or skip it")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from crlso.atomic import write_text_atomic
    from crlso.checkpoints import load_checkpoint, load_models
    from crlso.ranking import SCORERS, read_genotypes, score_genotypes, write_ranking

    for name, other in (("input", args.input), ("--checkpoint", args.checkpoint)):
        if Path(args.out).resolve() == Path(other).resolve():
            raise ValueError(f"--out {args.out} is the {name} file; writing the ranking there would overwrite it")
    if args.by is not None and args.by not in SCORERS:
        raise ValueError(f"unknown --by {args.by!r}; valid: {', '.join(SCORERS)}")
    space = load_checkpoint(args.checkpoint)["model_config"].get("space", "nb201")
    if args.space is not None and args.space != space:
        raise ValueError(f"{args.checkpoint} holds a model of the {space!r} space, but --space is {args.space!r}; "
                         f"rank {space} genotypes with it, or train a {args.space} model (crlso train --space {args.space})")
    entries, bad = read_genotypes(args.input, space=space, fmt=args.format)
    for item in bad:
        print(f"crlso rank: {args.input}: {item}", file=sys.stderr)
    if bad and args.on_error == "fail":
        raise ValueError(f"{len(bad)} bad line(s) in {args.input} (first: line {bad[0].line}); nothing written; "
                         "use --on-error skip to rank the rest")
    if not entries:
        raise ValueError(f"no genotype to rank in {args.input}")
    models = load_models(args.checkpoint)
    scores = score_genotypes(models, [g for _, g in entries])
    by = args.by or ("mean" if "mean" in scores else next(iter(scores)))
    if by not in scores:
        raise ValueError(f"--by {by} needs a head the checkpoint lacks; available: {', '.join(scores)}")
    order = np.argsort(-scores[by], kind="stable")
    rows = []
    for rank, i in enumerate(order.tolist(), start=1):
        line, genotype = entries[i]
        row = {"rank": rank, "genotype": str(genotype), "score": round(float(scores[by][i]), 4), "line": line}
        row.update({f"score_{name}": round(float(values[i]), 4) for name, values in scores.items() if name != by})
        rows.append(row)
    out = write_ranking(args.out, rows)
    print(f"ranked {len(rows)} genotypes by {by} (predicted accuracy, %); {len(bad)} bad line(s) skipped")
    if bad:
        import json

        errors = Path(out).with_name("rank_errors.jsonl")
        write_text_atomic(errors, "".join(json.dumps({"line": b.line, "text": b.text, "reason": b.reason}) + "\n" for b in bad))
        print(f"skipped lines: {errors.resolve()}")
    print(f"results: {Path(out).resolve()}")
    return 0
