"""How well a space's VAE decoder reconstructs cells it never trained on.

The VAE of a space (its adapter's decoder and model sizes) pre-trains without labels on its training cells
less a held-out share; then each held-out cell is encoded, its posterior mean decoded, and the decoded
genotype compared with the cell (``exact``: the same canonical string; ``choices``: the share of the row's
choices right, in the adapter's row-of-choices view).

``python -m crlso.experiments.reconstruction --spaces nb201,tnb101-micro,nbgraph,chain,nb101,nb101:generic,darts``
prints one line per space; ``chain`` is a chain of 10 layers with 4 choices each (about a million cells, 10,000
sampled); ``:generic`` uses the generic decoder where the space has its own (NB101).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Any

import numpy as np

from nasspace import register_space_instance
from nasspace.choice import SEQUENCE, ChoiceSpace, Position

__all__ = ["CHAIN_DEMO", "reconstruction_accuracy", "main"]

CHAIN_DEMO = "chain-10x4"


def chain_space() -> ChoiceSpace:
    """The demonstration chain: 10 layers, each one of ``id``, ``conv3``, ``conv5``, ``pool`` (registered)."""
    space = ChoiceSpace(CHAIN_DEMO, [Position(f"layer{i + 1}", ("id", "conv3", "conv5", "pool")) for i in range(10)],
                        layout=SEQUENCE)
    return register_space_instance(space, replace=True)  # type: ignore[return-value]


def reconstruction_accuracy(space_name: str, *, held_out: float = 0.1, seed: int = 0, epochs: int | None = None,
                            max_cells: int | None = None, batch_size: int | None = None,
                            generic_decoder: bool = False) -> dict[str, Any]:
    """Pre-train on the training cells less ``held_out`` of them (seeded), then decode the held-out means.

    Args:
        epochs: pre-training epochs (None: the default `PretrainConfig`).
        max_cells: use at most this many training cells (a seeded subset), for quick checks.
        batch_size: pre-training batch size (None: the default `PretrainConfig`).
        generic_decoder: the generic `ChoiceDecoder` even where the space has its own decoder (NB101).

    Returns:
        ``{"space", "train", "held_out", "exact", "choices" (or None), "seconds"}``.
    """
    import torch

    from crlso.models.cells import training_cells
    from crlso.models.config import PretrainConfig, default_model_config
    from crlso.models.graphs import batch_genotypes, featurizer_for
    from crlso.models.spaces import get_adapter
    from crlso.models.training import encode, pretrain_vae

    started = time.perf_counter()
    cells = list(training_cells(space_name))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(cells))
    if max_cells is not None:
        order = order[:max_cells]
    cut = max(1, int(round(held_out * len(order))))
    test = [cells[i] for i in order[:cut]]
    train = [cells[i] for i in order[cut:]] + list(get_adapter(space_name).pretrain_extra(cells))  # none held out
    sizes = {k: v for k, v in (("epochs", epochs), ("batch_size", batch_size)) if v is not None}
    pretrain = PretrainConfig(seed=seed, **sizes)
    vae = pretrain_vae(default_model_config(space_name), pretrain, device=torch.device("cpu"), progress=False, cells=train,
                       generic_decoder=generic_decoder)
    with torch.no_grad():
        mu = encode(vae, batch_genotypes(test, featurizer_for(space_name)))
        decoded = vae.decoder.decode(mu)
    exact = float(np.mean([str(a) == str(b) for a, b in zip(test, decoded)]))
    codec = get_adapter(space_name).choices()
    truth = np.asarray([codec.to_choices(g) for g in test])
    guess = np.asarray([codec.to_choices(g) for g in decoded])
    return {"space": space_name, "decoder": type(vae.decoder).__name__, "train": len(train), "held_out": len(test), "exact": exact, "choices": float((truth == guess).mean()),
            "epochs": dataclasses.asdict(pretrain)["epochs"], "seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", default="nb201,tnb101-micro,nbgraph,chain", help="comma list; chain: the 10x4 demo")
    parser.add_argument("--held-out", type=float, default=0.1, help="share of the training cells held out (default 0.1)")
    parser.add_argument("--epochs", type=int, default=None, help="pre-training epochs (default: PretrainConfig's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not 0 < args.held_out < 1:
        raise SystemExit(f"--held-out must be in (0, 1), got {args.held_out}")
    import torch

    torch.set_num_threads(1)
    print("| space | decoder | train cells | held out | exact | choices right | epochs | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for item in [s.strip() for s in args.spaces.split(",") if s.strip()]:
        name, _, variant = item.partition(":")
        if name == "chain":
            name = chain_space().name
        r = reconstruction_accuracy(name, held_out=args.held_out, seed=args.seed, epochs=args.epochs,
                                    generic_decoder=variant == "generic")
        print(f"| {r['space']} | {r['decoder']} | {r['train']:,} | {r['held_out']:,} | {r['exact']:.4f} | "
              f"{r['choices']:.4f} | {r['epochs']} | {r['seconds']:.0f} |", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
