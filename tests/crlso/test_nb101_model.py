"""The NB101 latent model: decoder validity and round trip, training cells, features, train -> rank, benchmark."""

import csv
import json

import numpy as np
import pytest
import torch

from crlso.models.spaces import create_decoder
from crlso.models.graphs import batch_genotypes
from crlso.models.nb101.cells import sample_cells
from crlso.models.nb101.decoder import SLOT_PAIRS, repair_cell, slot_layout
from crlso.models.nb101.features import NUM_FEATURES, ONE_HOT_DIM, cell_features, input_output_paths, one_hot_encoding
from crlso.models.config import ModelConfig, PretrainConfig, build_vae
from crlso.models.training import encode, pretrain_vae, vae_cache_path
from nasspace import get_space
from nasspace.nb101 import NB101_OPS, NB101Genotype, nb101_live_vertices

SPACE = get_space("nb101")
C3, C1, MP = NB101_OPS
TINY = ModelConfig(space="nb101", latent_dim=8, gnn_hidden=16, decoder_hidden=32, icnn_hidden=16, predictor_hidden=16)


def _assert_valid(g) -> None:
    assert isinstance(g, NB101Genotype)
    n = g.num_vertices
    assert 2 <= n <= 7 and g.num_edges <= 9
    assert g.ops[0] == "input" and g.ops[-1] == "output" and all(op in NB101_OPS for op in g.ops[1:-1])
    assert nb101_live_vertices(g.matrix) == list(range(n))  # pruned and connected
    assert all(g.matrix[i][j] == 0 for i in range(n) for j in range(i + 1))


@pytest.mark.parametrize("scale", [0.1, 1.0, 10.0, 100.0])
def test_decoder_emits_valid_cells_for_random_latents(scale: float) -> None:
    torch.manual_seed(0)
    decoder = create_decoder("nb101", latent_dim=8, hidden=32)
    cells = decoder.decode(scale * torch.randn(1000, 8))
    assert len(cells) == 1000
    for g in cells:
        _assert_valid(g)
    assert len({str(g) for g in cells}) > 10  # not one fixed cell


def test_decoder_repairs_extreme_logits() -> None:
    decoder = create_decoder("nb101", latent_dim=4, hidden=8)
    generator = torch.Generator().manual_seed(1)
    logits = 50 * torch.randn(500, 41, generator=generator)  # saturated: often no path, often > 9 edges
    logits[:100, 20:] = 30.0  # every edge certain: 21 edges among 7 vertices must be cut to 9
    logits[100:200, 20:] = -30.0  # no edge at all: the most probable path is added
    for g in decoder.genotypes(logits):
        _assert_valid(g)
    full = decoder.genotypes(torch.cat([torch.tensor([[0.0, 9, 0, 0] * 5]), torch.full((1, 21), 30.0)], dim=1))[0]
    assert full.num_vertices == 7 and full.num_edges == 9


def test_repair_drops_the_least_probable_edges_and_adds_the_most_probable_path() -> None:
    ops = ["input", C3, C1, MP, C3, C1, "output"]
    rng = np.random.default_rng(0)
    prob = np.triu(rng.uniform(0.6, 0.99, size=(7, 7)), 1)
    g = repair_cell(ops, prob)
    _assert_valid(g)
    assert g.num_vertices == 7 and g.num_edges == 9
    kept = [prob[s, d] for s in range(7) for d in range(7) if g.matrix[s][d]]
    dropped = [prob[s, d] for s in range(7) for d in range(s + 1, 7) if not g.matrix[s][d]]
    assert np.median(kept) > np.median(dropped)  # the cut favours low-probability edges
    low = np.full((4, 4), 0.01)
    low[0, 2], low[2, 3] = 0.4, 0.45  # below 1/2, but the best input->output path
    path = repair_cell(["input", C3, C1, "output"], low)
    assert str(path) == "010,001,000|input,conv1x1-bn-relu,output"  # vertex 1 is on no path: pruned


def test_targets_and_perfect_logits_round_trip() -> None:
    """Logits that put all mass on the targets decode to exactly the cells (a broken layout fails this)."""
    decoder = create_decoder("nb101", latent_dim=4, hidden=8)
    cells = sample_cells(300, seed=3)
    targets = decoder.targets(cells)
    assert targets.shape == (300, 26)
    ops = torch.full((300, 5, 4), -8.0).scatter(2, targets[:, :5].unsqueeze(-1), 8.0)
    logits = torch.cat([ops.reshape(300, 20), 16.0 * targets[:, 5:].float() - 8.0], dim=1)
    assert decoder.genotypes(logits) == cells
    assert decoder.loss(logits, targets) < 0.01 < decoder.loss(-logits, targets)
    with pytest.raises(ValueError, match="NB101Genotype"):
        decoder.targets([get_space("nb201").sample(0)])


def test_slot_layout_puts_the_output_last() -> None:
    g = SPACE.parse("011,001,000|input,maxpool3x3,output")
    ops, edges = slot_layout(g)
    assert ops == [1 + NB101_OPS.index(MP), 0, 0, 0, 0]
    assert {SLOT_PAIRS[k] for k, bit in enumerate(edges) if bit} == {(0, 1), (0, 6), (1, 6)}


@pytest.mark.slow  # 800 Adam steps: ~65 s on a loaded 2-core machine
def test_vae_round_trip_on_sampled_cells() -> None:
    """Encode, decode the mean: a default-sized VAE trained on 128 cells reconstructs nearly all exactly.

    Measured: 126 of 128 (0.984); the untrained VAE reconstructs none.
    """
    cells = sample_cells(128, seed=5)
    model = ModelConfig(space="nb101")
    vae = pretrain_vae(model, PretrainConfig(epochs=100, batch_size=16, lr=3e-3), device=torch.device("cpu"),
                       progress=False, cells=cells)
    decoded = vae.decoder.decode(encode(vae, batch_genotypes(cells)))
    for g in decoded:
        _assert_valid(g)
    exact = np.mean([a == b for a, b in zip(decoded, cells)])
    fresh = build_vae(model).eval()
    untrained = np.mean([a == b for a, b in zip(fresh.decoder.decode(encode(fresh, batch_genotypes(cells))), cells)])
    assert exact >= 0.8 and untrained < 0.05, (exact, untrained)


def test_sampled_cells_are_distinct_valid_and_seeded() -> None:
    cells = sample_cells(400, seed=0)
    assert len({str(g) for g in cells}) == 400
    for g in cells:
        _assert_valid(g)
    assert cells[:50] == sample_cells(50, seed=0) and cells[:50] != sample_cells(50, seed=1)
    sizes = np.bincount([g.num_vertices for g in cells], minlength=8)
    assert sizes[7] > sizes[5] > 0  # the spread covers the large cells the space is made of
    with pytest.raises(ValueError, match="1..400000"):
        sample_cells(0, seed=0)


def test_features_of_a_hand_made_cell() -> None:
    g = SPACE.parse("0111,0001,0001,0000|input,conv3x3-bn-relu,maxpool3x3,output")
    assert sorted(input_output_paths(g)) == [(0, 1, 3), (0, 2, 3), (0, 3)]
    f = cell_features([g])[0]
    assert f.shape == (NUM_FEATURES,)
    assert f[0] == 1 and f[1 + NB101_OPS.index(C3)] == 1 and f[1 + NB101_OPS.index(MP)] == 1 and f[1:364].sum() == 2
    assert list(f[364:367]) == [4, 5, 3]  # vertices, edges, paths
    one_hot = one_hot_encoding([g])[0]
    assert one_hot.shape == (ONE_HOT_DIM,) and one_hot[:20].sum() == 5 and one_hot[20:].sum() == 5


@pytest.fixture
def small_nb101_cells(monkeypatch, data_store):
    """The training cells cut to 200 sampled + the labelled ones (the real set is 10,000 + 301)."""
    import crlso.models.cells
    from nasspace.benchmarks.subsets import SubsetTable

    cells = {str(g): g for g in sample_cells(200, seed=0)}
    for g in SubsetTable("nb101", store=data_store).genotypes:
        cells.setdefault(str(g), g)
    result = tuple(cells.values())
    batch = batch_genotypes(result)
    monkeypatch.setattr(crlso.models.cells, "_cells_batch", lambda space, tag, data_dir: (result, batch))
    return result


def test_train_then_rank_on_nb101(small_nb101_cells, data_store, tmp_path) -> None:
    """`crlso train --space nb101` on 200 labels, then `crlso rank` of unseen cells in all three formats."""
    from crlso.models.torch_files import save_torch_atomic
    from crlso.models.checkpoints import load_checkpoint
    from crlso.cli import main
    from nasspace.benchmarks.subsets import SubsetTable

    torch.manual_seed(0)  # a stub stands in for the (slow) pre-training
    save_torch_atomic(vae_cache_path(TINY, PretrainConfig(epochs=1), tmp_path), {"state_dict": build_vae(TINY).state_dict()})
    run = tmp_path / "run"
    assert main(["train", "--space", "nb101", "--labels", "200", "--epochs", "5", "--ensemble", "1", "--pretrain-epochs", "1",
                 "--forest-trees", "20", "--hidden", "16", "--latent-dim", "8", "--cache-dir", str(tmp_path),
                 "--out", str(run), "--data-dir", str(data_store.data_dir)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["labels"] == 200 and -1.0 <= summary["kendall_tau_unlabelled"] <= 1.0
    seen = set(load_checkpoint(run / "checkpoint.pt")["genotypes"])
    assert len(seen) == 200
    unseen = [g for g in SubsetTable("nb101", store=data_store).genotypes if str(g) not in seen][:6]
    lines = [str(SPACE.to_naslib(unseen[0])), json.dumps({"matrix": [list(r) for r in unseen[1].matrix], "ops": list(unseen[1].ops)}),
             str(unseen[2]), str(list(SPACE.to_naslib(unseen[3]))), str(unseen[4]), str(unseen[5])]
    source = tmp_path / "cells.txt"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "ranked.csv"
    assert main(["rank", str(source), "--space", "nb101", "--checkpoint", str(run / "checkpoint.pt"), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert sorted(r["genotype"] for r in rows) == sorted(str(g) for g in unseen)
    scores = [float(r["score"]) for r in rows]
    assert all(np.isfinite(scores)) and scores == sorted(scores, reverse=True)
    as_json = tmp_path / "cells.json"  # a JSON list: spec objects, NASLib arrays and strings
    as_json.write_text(json.dumps([{"matrix": [list(r) for r in unseen[0].matrix], "ops": list(unseen[0].ops)},
                                   list(SPACE.to_naslib(unseen[1])), str(unseen[2])]))
    assert main(["rank", str(as_json), "--checkpoint", str(run / "checkpoint.pt"), "--out", str(tmp_path / "r.jsonl")]) == 0
    assert main(["rank", str(source), "--space", "nb201", "--checkpoint", str(run / "checkpoint.pt"),
                 "--out", str(tmp_path / "x.csv")]) == 2  # the checkpoint refuses another space


def test_nb101_rank_bench_runs_with_its_baselines(data_store, tmp_path) -> None:
    """The ranking benchmark on NB101 (NASLib's 301 cells), one small split: every model measured on the test cells only."""
    from crlso.models.torch_files import save_torch_atomic
    from crlso.ranking.benchmark import RankBenchConfig, format_rank_table, run_rank_benchmark
    from crlso.ranking.model import RankModelConfig
    from nasspace.benchmarks.subsets import SubsetTable

    save_torch_atomic(vae_cache_path(TINY, PretrainConfig(epochs=1), tmp_path), {"state_dict": build_vae(TINY).state_dict()})
    config = RankBenchConfig(space="nb101", ns=(40,), seeds=(0,), k=10, rf_trees=20, cache_dir=str(tmp_path), model=TINY,
                             pretrain=PretrainConfig(epochs=1), ranker=RankModelConfig(ensemble=1, epochs=20, forest_trees=20))
    table = SubsetTable("nb101", store=data_store)
    result = run_rank_benchmark(config, table=table, progress=False)
    run = result["runs"][0]
    assert {"latent", "random_forest", "params", "latent_gnn", "cell_forest"} <= set(run) and result["pool"] == len(table) == 301
    from scipy.stats import kendalltau

    labelled = np.sort(np.random.default_rng(0).choice(301, size=40, replace=False))
    rest = np.setdiff1d(np.arange(301), labelled)
    params_tau = kendalltau(table.metric("params")[rest], table.metric("valid_acc")[rest]).statistic
    assert run["params"]["tau"] == pytest.approx(params_tau)  # measured on the test cells, not all
    assert run["cell_forest"]["tau"] > 0.3  # the structural features carry signal
    assert "| 40 |" in format_rank_table(result, 10)
    with pytest.raises(ValueError, match="n must be in|outside"):
        run_rank_benchmark(RankBenchConfig(space="nb101", ns=(295,), k=10, model=TINY, cache_dir=str(tmp_path)), table=table)
