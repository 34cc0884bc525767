"""The regularized latent space of CR-LSO searches: joint refits, heads, paper mode, variants, provenance."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from crlso.experiments.compare import aggregate, format_table
from crlso.experiments.run import RunConfig, run_experiment
from crlso.experiments.run_folder import read_queries
from crlso.models.icnn import ICNN, MLPHead, create_head
from crlso.search.variants import VARIANTS, resolve_variant


def _paper_options(tiny: dict) -> dict:
    """Paper mode at test size: the tiny models, short fits."""
    return {"n_init": 8, "batch_size": 4, "top_k": 4, "predictor_epochs": 5, "ft_epochs": 3, "max_retries": 3,
            "joint": {"epochs": 0.2}, "cache_dir": tiny["cache_dir"], "model": tiny["model"], "pretrain": tiny["pretrain"]}


def _standardized_errors(space, table) -> torch.Tensor:
    row = {str(g): i for i, g in enumerate(table.genotypes)}
    acc = torch.tensor(table.metric("valid_acc"), dtype=torch.float32)[[row[str(g)] for g in space.cells]]
    err = 1 - acc / 100
    return (err - err.mean()) / err.std()


def test_joint_refit_moves_the_encoder_and_predicts_held_out_cells_better_than_the_frozen_space(nb201_cifar10, tiny_crlso_options) -> None:
    """Same head, same labels: fitted jointly with the VAE it predicts unseen cells better than on the frozen codes."""
    from crlso.models.graphs import GraphBank, featurizer_for
    from crlso.search.latent_space import LatentSpace
    from crlso.models.training import encode, fit_icnn, refit_vae_icnn

    opts = tiny_crlso_options
    space = LatentSpace(opts["model"], opts["pretrain"], opts["cache_dir"])
    y = _standardized_errors(space, nb201_cifar10)
    generator = torch.Generator().manual_seed(7)
    perm = torch.randperm(len(space), generator=generator)
    train, held = perm[:2000], perm[2000:3000]
    labelled = torch.arange(150)  # positions within ``train`` weighed up, as the search's labels are
    torch.manual_seed(7)
    frozen_head = create_head("icnn", opts["model"].latent_dim, hidden=16, num_layers=2, activation="softplus")
    joint_head = copy.deepcopy(frozen_head)
    weights = torch.ones(len(train))
    weights[labelled] = 5.0
    fit_icnn(frozen_head, space.mu[train], y[train], weights, steps=300, lr=1e-2)

    vae = copy.deepcopy(space.vae)
    bank = GraphBank(space.bank.select(train), featurizer_for("nb201"))
    recon = vae.decoder.targets([space.cells[i] for i in train.tolist()])
    refit_vae_icnn(vae, joint_head, bank, recon, y[train], labelled, epochs=15, batch_size=256, lr=3e-3, beta=0.005,
                   weight=5.0, label_weight=5.0, generator=generator)
    before = space.vae.encoder.state_dict()
    assert any(not torch.equal(v, before[k]) for k, v in vae.encoder.state_dict().items())
    with torch.no_grad():
        frozen_mse = float((frozen_head(space.mu[held]) - y[held]).pow(2).mean())
        joint_mse = float((joint_head(encode(vae, space.bank.select(held))) - y[held]).pow(2).mean())
    assert joint_mse < 0.8 * frozen_mse


def test_regularize_reencodes_every_code_and_leaves_the_shared_model_alone(nb201_cifar10, tiny_crlso_options) -> None:
    from crlso.search.latent_space import JointFitConfig, LatentSpace, latent_model

    opts = tiny_crlso_options
    shared_vae, _, _, shared_mu = latent_model(opts["model"], opts["pretrain"], opts["cache_dir"])
    shared_state = {k: v.clone() for k, v in shared_vae.state_dict().items()}
    space = LatentSpace(opts["model"], opts["pretrain"], opts["cache_dir"])
    y = _standardized_errors(space, nb201_cifar10)
    head = create_head("icnn", opts["model"].latent_dim, hidden=16, num_layers=2, activation="softplus")
    labelled = torch.arange(0, 15625, 500)
    mse = space.regularize(head, y, labelled, JointFitConfig(epochs=0.2), seed=3)
    assert mse == mse and space.refits == 1  # finite, counted
    assert not torch.allclose(space.mu, shared_mu)
    assert all(torch.equal(v, shared_state[k]) for k, v in shared_vae.state_dict().items())
    torch.manual_seed(0)
    head_a = create_head("icnn", opts["model"].latent_dim, hidden=16, num_layers=2, activation="softplus")
    head_b = copy.deepcopy(head_a)
    first, second = (LatentSpace(opts["model"], opts["pretrain"], opts["cache_dir"]) for _ in range(2))
    first.regularize(head_a, y, labelled, JointFitConfig(epochs=0.2), seed=3)
    second.regularize(head_b, y, labelled, JointFitConfig(epochs=0.2), seed=3)
    assert torch.equal(first.mu, second.mu)  # seeded: same start, same refit, same codes


def test_heads_the_icnn_is_convex_and_the_mlp_twin_is_not_constrained() -> None:
    torch.manual_seed(0)
    icnn, mlp = create_head("icnn", 4, hidden=8, num_layers=2, activation="softplus"), create_head("mlp", 4, hidden=8, num_layers=2, activation="softplus")
    assert isinstance(icnn, ICNN) and isinstance(mlp, MLPHead)
    a, b = torch.randn(256, 4) * 3, torch.randn(256, 4) * 3
    for t in (0.25, 0.5, 0.75):  # f(ta + (1-t)b) <= t f(a) + (1-t) f(b), the ICNN's defining property
        with torch.no_grad():
            assert bool((icnn(t * a + (1 - t) * b) <= t * icnn(a) + (1 - t) * icnn(b) + 1e-5).all())
    z = torch.randn(5, 4)
    assert mlp.grad(z).shape == (5, 4) and not z.requires_grad
    with pytest.raises(ValueError, match="unknown latent head 'gp'"):
        create_head("gp", 4, hidden=8, num_layers=2, activation="softplus")


def test_variants_resolve_to_a_searcher_and_its_options() -> None:
    assert resolve_variant("paper-noreg") == ("crlso-paper", {"regularize": False})
    assert resolve_variant("crlso-noneighbours", {"n_init": 5}) == ("crlso", {"neighbour_top": 0, "stall_rounds": 0, "n_init": 5})
    assert set(VARIANTS) >= {"paper", "paper-noreg", "paper-mlp", "paper-nograd", "paper-rereg", "crlso",
                             "crlso-noneighbours", "crlso-frozen"}
    with pytest.raises(ValueError, match="unknown variant 'papr'"):
        resolve_variant("papr")


@pytest.mark.parametrize("method", ["crlso", "crlso-paper"])
def test_a_latent_run_logs_provenance_that_adds_up_and_never_repeats(method, tmp_path, nb201_cifar10, tiny_crlso_options) -> None:
    options = tiny_crlso_options if method == "crlso" else _paper_options(tiny_crlso_options)
    summary = run_experiment(RunConfig(method=method, budget=24, seed=5, options=options), tmp_path / "run", progress=False)
    records = read_queries(tmp_path / "run" / "queries.jsonl")
    assert len(records) == 24 == len({r["genotype"] for r in records})
    assert all(r["source"] in {"init", "latent", "neighbour", "stall", "global", "explore", "fill"} for r in records)
    assert [r["source"] for r in records[:8]] == ["init"] * 8
    assert sum(summary["sources"].values()) == 24
    latent = [r for r in records if r["source"] == "latent"]
    assert latent, "the latent steps proposed nothing"
    for r in latent:
        assert {"start", "start_value", "icnn_start", "icnn_end"} <= set(r)
    assert summary["latent_steps"]["count"] == len(latent)
    improving = sum(r["value"] > r["start_value"] for r in latent)
    assert summary["latent_steps"]["improving"] == improving
    assert -1.0 <= summary["icnn_tau_unqueried"] <= 1.0
    assert summary["searcher_stats"]["joint_fits"] >= 1
    state = torch.load(tmp_path / "run" / "latent_space.pt", weights_only=True)
    assert {"model_config", "vae", "head", "head_kind", "target_mean", "target_std"} <= set(state)


def test_paper_mode_steps_downhill_on_its_icnn(tmp_path, nb201_cifar10, tiny_crlso_options) -> None:
    """A gradient step lowers the ICNN's predicted error from the (noisy) start; noise only does not move it."""
    run_experiment(RunConfig(method="crlso-paper", budget=20, seed=1, options=_paper_options(tiny_crlso_options)),
                   tmp_path / "grad", progress=False)
    steps = [r for r in read_queries(tmp_path / "grad" / "queries.jsonl") if r["source"] == "latent"]
    assert steps and all(r["icnn_end"] < r["icnn_start"] for r in steps)
    _, options = resolve_variant("paper-nograd", _paper_options(tiny_crlso_options))
    run_experiment(RunConfig(method="crlso-paper", budget=20, seed=1, options=options), tmp_path / "nograd", progress=False)
    still = [r for r in read_queries(tmp_path / "nograd" / "queries.jsonl") if r["source"] == "latent"]
    assert still and all(r["icnn_end"] == pytest.approx(r["icnn_start"]) for r in still)


def test_tables_group_runs_by_variant_and_show_the_latent_columns() -> None:
    def run(variant, seed, tau, share):
        return {"method": "crlso-paper", "variant": variant, "seed": seed, "best_so_far": [90.0, 91.0], "queries_to_optimum": None,
                "wall_seconds": 1.0, "icnn_tau_unqueried": tau, "latent_steps": {"improving_share": share}}

    aggregated = aggregate([run("paper", 0, 0.5, 0.2), run("paper", 1, 0.3, 0.4), run("paper-noreg", 0, 0.1, 0.0)], [2])
    assert list(aggregated) == ["paper", "paper-noreg"] and aggregated["paper"]["seeds"] == 2
    assert aggregated["paper"]["icnn_tau_unqueried"]["mean"] == pytest.approx(0.4)
    assert aggregated["paper"]["improving_latent_steps"]["mean"] == pytest.approx(0.3)
    table = format_table(aggregated, [2])
    assert "ICNN tau (unqueried)" in table and "| paper-noreg | 1 |" in table and "± is the half-width" in table


def test_compare_takes_a_seed_range_and_variant_names(tmp_path, capsys, nb201_cifar10) -> None:
    from crlso.cli import main

    assert main(["compare", "--methods", "random", "--seeds", "100-101", "--budgets", "5", "--workers", "1",
                 "--out", str(tmp_path / "cmp")]) == 0
    assert sorted(p.name for p in (tmp_path / "cmp" / "runs" / "random").iterdir()) == ["seed_100", "seed_101"]
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["seeds"] == [100, 101]
    with pytest.raises(SystemExit):  # argparse: exit 2 with the message
        main(["compare", "--methods", "random", "--seeds", "9-3", "--out", str(tmp_path / "bad")])
    assert "ends before it starts" in capsys.readouterr().err


def test_seed_lists_parse_counts_ranges_and_lists() -> None:
    import argparse

    from crlso.cli.common import seed_list

    assert seed_list("3") == (0, 1, 2)
    assert seed_list("100-103") == (100, 101, 102, 103)
    assert seed_list("0,5,10-11") == (0, 5, 10, 11)
    for bad in ("9-3", "a-b", "0", "1,1", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            seed_list(bad)


def test_search_from_a_model_of_another_dataset_is_a_clear_error(tmp_path, capsys, nb201_cifar10) -> None:
    from crlso.models.torch_files import save_torch_atomic
    from crlso.models.checkpoints import check_trained_model
    from crlso.cli import main

    model = tmp_path / "model"
    model.mkdir()
    from crlso.models.checkpoints import FORMAT_VERSION

    save_torch_atomic(model / "checkpoint.pt", {"format_version": FORMAT_VERSION, "state_dicts": {"vae": {}}, "model_config": {},
                                                "config": {"space": "nb201", "dataset": "cifar100", "metric": "valid_acc_12ep"}})
    with pytest.raises(ValueError, match="dataset 'cifar100'; this search is on 'cifar10'"):
        check_trained_model(model, space="nb201", dataset="cifar10", metric="valid_acc")
    assert main(["search", "--method", "crlso", "--model", str(model), "--budget", "5", "--out", str(tmp_path / "run")]) == 2
    assert "trained on dataset 'cifar100'" in capsys.readouterr().err
    assert main(["search", "--method", "rea", "--model", str(model), "--budget", "5", "--out", str(tmp_path / "rea")]) == 2
    assert "--model needs a latent searcher" in capsys.readouterr().err


def test_paired_differences_pair_runs_by_seed() -> None:
    from crlso.experiments.compare import format_paired, paired_differences

    def run(variant, seed, final, tau):
        return {"method": "crlso", "variant": variant, "seed": seed, "best_so_far": [90.0, final], "icnn_tau_unqueried": tau}

    summaries = [run("a", 0, 94.0, 0.5), run("a", 1, 93.0, 0.4), run("a", 2, 92.0, 0.3), run("b", 0, 93.5, 0.2), run("b", 1, 92.5, 0.2)]
    (row,) = paired_differences(summaries, [("a", "b"), ("a", "missing")], [2])
    assert row["seeds"] == 2  # seed 2 has no twin
    assert row["at_budget"]["2"]["mean"] == pytest.approx(0.5) and row["at_budget"]["2"]["ci95"] == pytest.approx(0.0)
    assert row["icnn_tau_unqueried"]["mean"] == pytest.approx(0.25)
    assert "| a - b | 2 | +0.500 ± 0.000 | +0.250 ± " in format_paired([row], [2])


def test_first_pretraining_says_what_it_does_and_that_it_is_cached(tmp_path, capsys, data_store) -> None:
    from crlso.models.config import ModelConfig, PretrainConfig
    from crlso.models.training import cached_pretrained_vae

    model = ModelConfig(gnn_hidden=8, gnn_layers=1, latent_dim=4, decoder_hidden=8, decoder_blocks=1,
                        icnn_hidden=8, predictor_hidden=8, predictor_layers=1)
    pretrain = PretrainConfig(epochs=1, batch_size=4096)
    _, path = cached_pretrained_vae(model, pretrain, cache_dir=tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "pre-training the unlabelled graph VAE" in err and f"cached at {path}" in err and "pre-trained the VAE in" in err
    cached_pretrained_vae(model, pretrain, cache_dir=tmp_path, progress=True)
    assert "pre-training" not in capsys.readouterr().err  # the second run loads it silently
