"""Tiny end-to-end searches on the real NB201 table: budget, no repeats, reproducibility."""

from __future__ import annotations

import re

import pytest

from crlso.search import create_searcher, list_searchers, run_search, searcher_config
from nasspace import get_space
from nasspace.oracle import Oracle

BUDGET = 24


def _search(method: str, seed: int, table, options: dict | None = None, budget: int = BUDGET):
    oracle = Oracle.from_table(table, metric="valid_acc", budget=budget)
    searcher = create_searcher(method, get_space("nb201"), seed=seed, options=options)
    queries = run_search(searcher, oracle, budget=budget, progress=False)
    return oracle, [str(q.genotype) for q in queries]


def _options(method: str, tiny: dict) -> dict | None:
    return tiny if method == "crlso" else None


def test_registry_lists_the_four_methods() -> None:
    assert {"random", "rea", "local", "crlso"} <= set(list_searchers())
    with pytest.raises(ValueError, match="valid: .*rea"):
        create_searcher("nope", get_space("nb201"), seed=0)
    with pytest.raises(ValueError, match="valid: .*batch_size"):
        searcher_config("crlso", {"nope": 1})
    assert searcher_config("rea", {"population_size": "10"}).population_size == 10


@pytest.mark.parametrize("method", ["random", "rea", "local", "crlso"])
def test_budget_no_repeats_reproducible(method: str, nb201_cifar10, tiny_crlso_options) -> None:
    options = _options(method, tiny_crlso_options)
    oracle, first = _search(method, 7, nb201_cifar10, options)
    assert len(first) == BUDGET == oracle.n_queries  # spends the budget, never more
    assert len(set(first)) == len(first)  # never queries a genotype twice
    assert oracle.exhausted
    _, again = _search(method, 7, nb201_cifar10, options)
    assert again == first  # same seed, same queries
    _, other = _search(method, 8, nb201_cifar10, options)
    assert other != first


def test_crlso_round_never_asks_past_the_budget(nb201_cifar10, tiny_crlso_options) -> None:
    """A budget that is not a multiple of the round size ends exactly on the budget."""
    options = {**tiny_crlso_options, "batch_size": 7}
    oracle, queries = _search("crlso", 1, nb201_cifar10, options, budget=19)
    assert len(queries) == 19 == oracle.n_queries


def test_crlso_neighbours_and_stall_restarts_keep_the_contract(nb201_cifar10, tiny_crlso_options) -> None:
    """Predictor-ranked one-edge neighbours and stall restarts still spend the budget, no repeats."""
    options = {**tiny_crlso_options, "neighbour_top": 2, "stall_rounds": 1, "explore_starts": 8}
    oracle, queries = _search("crlso", 3, nb201_cifar10, options, budget=BUDGET)
    assert len(queries) == BUDGET == oracle.n_queries
    assert len(set(queries)) == len(queries)


def test_crlso_edge_distance() -> None:
    from crlso.search.crlso import _distance, _tokens

    a = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    b = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_1x1~2|"
    assert len(_tokens(a)) == 6
    assert _distance(_tokens(a), _tokens(a)) == 0
    assert _distance(_tokens(a), _tokens(b)) == 2


def _sep_fraction(genotype) -> float:
    """A cheap stand-in objective on DARTS genotypes: % of separable convolutions among the 16 ops."""
    return 100.0 * sum(op.startswith("sep_conv") for op, _ in genotype.normal + genotype.reduce) / 16


def stub_pretrained_vae(model, pretrain, cache_dir) -> None:
    """Store a seeded, untrained VAE where `cached_pretrained_vae` looks for ``(model, pretrain)``: the
    search contract does not need a trained model, and pre-training on the 11,721 DARTS cells is slow."""
    import torch

    from crlso.models.torch_files import save_torch_atomic
    from crlso.models.config import build_vae
    from crlso.models.training import vae_cache_path

    torch.manual_seed(0)
    save_torch_atomic(vae_cache_path(model, pretrain, cache_dir), {"state_dict": build_vae(model).state_dict()})


def test_crlso_on_darts_grows_its_cells_and_keeps_the_contract(data_store, tiny_crlso_options, tmp_path) -> None:
    """Off the training cells, decoded and neighbour genotypes are encoded and appended as they come."""
    import dataclasses

    import torch

    from crlso.models.graphs import batch_genotypes
    from crlso.search.latent_space import latent_model
    from crlso.models.training import encode
    from nasspace.darts import DARTSGenotype

    model = dataclasses.replace(tiny_crlso_options["model"], space="darts")
    options = {**tiny_crlso_options, "model": model, "cache_dir": str(tmp_path)}
    stub_pretrained_vae(model, options["pretrain"], tmp_path)
    space = get_space("darts")

    def search(seed: int):
        oracle = Oracle(_sep_fraction, budget=14)
        searcher = create_searcher("crlso", space, seed=seed, options=options)
        return searcher, oracle, run_search(searcher, oracle, budget=14, progress=False)

    searcher, oracle, queries = search(0)
    keys = [str(q.genotype) for q in queries]
    assert len(keys) == 14 == oracle.n_queries and len(set(keys)) == 14  # 8 random, then 4 + 2 proposed
    assert all(isinstance(q.genotype, DARTSGenotype) and space.parse(k) == q.genotype for q, k in zip(queries, keys))
    vae, cells, _, mu = latent_model(searcher.config.model, searcher.config.pretrain, searcher.config.cache_dir)
    assert len(cells) == 11721 == mu.shape[0]  # the shared model is not modified ...
    latent = searcher.latent
    n = len(latent.cells)
    assert n > 11721 and latent.mu.shape[0] == n == len(latent.bank) == len(latent.index)  # ... the searcher's grows
    rows = latent.positions([q.genotype for q in queries])
    assert len(latent.cells) == n  # known genotypes are not appended twice
    assert [str(latent.cells[i]) for i in rows.tolist()] == keys
    assert torch.allclose(latent.mu[rows], encode(latent.vae, batch_genotypes([q.genotype for q in queries])), atol=1e-5)
    _, _, again = search(0)
    assert [str(q.genotype) for q in again] == keys


def test_crlso_on_nb201_never_grows_its_cells(nb201_cifar10, tiny_crlso_options) -> None:
    oracle = Oracle.from_table(nb201_cifar10, metric="valid_acc", budget=16)
    searcher = create_searcher("crlso", get_space("nb201"), seed=2, options=tiny_crlso_options)
    run_search(searcher, oracle, budget=16, progress=False)
    assert len(searcher.latent.cells) == 15625 == searcher.latent.mu.shape[0] == len(searcher.latent.bank)


def test_a_search_that_runs_out_of_cells_ends_cleanly() -> None:
    """Issue 16 item 9: a searcher with nothing unseen left stops the loop with what it has, no RuntimeError."""
    import warnings

    import numpy as np

    from crlso.search.base import create_searcher, run_search, sample_unseen

    space = get_space("nb201")
    cells = list(space.enumerate())
    seen = {str(g) for g in cells[1:]}
    rng = np.random.default_rng(0)
    assert str(sample_unseen(space, rng, seen, max_tries=5)) == str(cells[0])  # found past the rejection draws
    with pytest.raises(RuntimeError, match="already evaluated"):
        sample_unseen(space, rng, seen | {str(cells[0])}, max_tries=5)

    searcher = create_searcher("local", space, seed=0, options={"n_init": 2})
    searcher.seen.update(seen)  # all but one cell already known: the climb must run dry
    oracle = Oracle(lambda g: 1.0, budget=10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        queries = run_search(searcher, oracle, budget=10, progress=False)
    assert [str(q.genotype) for q in queries] == [str(cells[0])]
    assert any("ended after 1 of 10" in str(w.message) for w in caught)


@pytest.mark.parametrize("method, option, value, allowed", [
    ("crlso", "step_size", "nan", "> 0"),
    ("crlso", "noise", "inf", ">= 0"),
    ("crlso", "batch_size", "-3", ">= 1"),
    ("crlso", "steps", "-1", ">= 1"),
    ("crlso", "n_init", "-5", ">= 1"),
    ("crlso", "batch_size", "0", ">= 1"),
    ("crlso", "model", '{"latent_dim": "abc"}', "an integer >= 1"),
    ("crlso", "model", '{"latent_dim": 0}', ">= 1"),
    ("crlso", "pretrain", '{"lr": -1}', "> 0"),
    ("crlso", "joint", '{"adam_betas": [0.9, 1.5]}', "< 1"),
    ("latent_bo", "mc_samples", "0", ">= 1"),
    ("rea", "population_size", "0", ">= 1"),
    ("local", "n_init", "-5", ">= 1"),
])
def test_numeric_options_are_validated_when_the_config_is_built(method, option, value, allowed) -> None:
    """Issue 16 item 8: one ValueError line naming the option and the allowed range, before any work."""
    with pytest.raises(ValueError, match=r"option \w+=.*allowed: .*" + re.escape(allowed)) as info:
        searcher_config(method, {option: value})
    assert "\n" not in str(info.value)
    searcher_config("crlso-paper", {"step_size": "0"})  # zero is a value (the paper-nograd variant), not rejected there


def test_zero_is_not_the_default_on_the_command_line(tmp_path, capsys) -> None:
    from crlso.cli import main

    for flag in ("--latent-dim", "--pretrain-epochs"):
        assert main(["train", flag, "0", "--out", str(tmp_path / "m")]) == 2
        err = capsys.readouterr().err
        assert "allowed: an integer >= 1" in err and err.count("\n") == 1
    assert not (tmp_path / "m").exists()
