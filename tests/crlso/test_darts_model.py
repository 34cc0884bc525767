"""The latent model in the DARTS space: featurizer, decoder, training cells, pre-training (tiny, CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crlso.models.cells import training_cells, training_cells_batch
from crlso.models.choice_decoder import ChoiceDecoder
from crlso.models.spaces import create_decoder
from crlso.models.graphs import GraphBank, batch_genotypes, featurizer_for, to_data
from crlso.models.config import ModelConfig, PretrainConfig, build_vae, subset_batch
from crlso.models.training import encode, pretrain_vae, vae_cache_path
from nasspace import get_space
from nasspace.darts import DARTSGenotype

TINY = ModelConfig(space="darts", gnn_hidden=16, gnn_layers=2, latent_dim=8, decoder_hidden=32, decoder_blocks=1,
                   icnn_hidden=16, predictor_hidden=16, predictor_layers=2)
# node 3 of the normal cell lists its larger input first (as about half of the NB301 nodes do)
DESCENDING = get_space("darts").parse(
    "Genotype(normal=[('sep_conv_5x5', 0), ('sep_conv_3x3', 1), ('skip_connect', 2), ('sep_conv_3x3', 0), "
    "('sep_conv_3x3', 2), ('sep_conv_3x3', 0), ('dil_conv_5x5', 2), ('dil_conv_3x3', 3)], normal_concat=[2, 3, 4, 5], "
    "reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('avg_pool_3x3', 1), ('dil_conv_3x3', 0), "
    "('sep_conv_3x3', 2), ('skip_connect', 0), ('sep_conv_5x5', 4), ('avg_pool_3x3', 3)], reduce_concat=[2, 3, 4, 5])"
)


def _cells(n: int, seed: int = 0) -> list[DARTSGenotype]:
    rng = np.random.default_rng(seed)
    return [get_space("darts").sample(rng) for _ in range(n)]


def test_darts_featurizer() -> None:
    featurizer = featurizer_for("darts")
    space = get_space("darts")
    graph = space.to_graph(DESCENDING)
    data = to_data(DESCENDING)
    assert graph.num_nodes == 30 and featurizer.max_nodes == 30
    assert data.x.shape == (30, len(space.graph_vocabulary) + 30)
    assert data.edge_index.shape == (2, 2 * len(graph.edges)) and data.edge_attr.shape == (2 * len(graph.edges), 2)
    assert torch.equal(data.x[:, : len(graph.vocabulary)].argmax(1), torch.tensor(graph.op_indices()))
    assert batch_genotypes(_cells(3)).num_graphs == 3


@pytest.mark.parametrize("scale", [0.0, 1.0, 100.0])
def test_darts_decoder_always_valid(scale: float) -> None:
    torch.manual_seed(0)
    decoder = create_decoder("darts", latent_dim=8, hidden=32)
    assert isinstance(decoder, ChoiceDecoder)
    space = get_space("darts")
    genotypes = decoder.decode(scale * torch.randn(200, 8))
    genotypes += decoder.genotypes(scale * torch.randn(200, 32, 10))  # any logits, unmasked slots included
    assert len(genotypes) == 400
    for g in genotypes:
        assert isinstance(g, DARTSGenotype)
        assert space.parse(str(g)) == g
        for cell_type in ("normal", "reduce"):
            for k, ((_, a), (_, b)) in enumerate(g.nodes(cell_type)):
                assert a != b and max(a, b) <= k + 1


def test_darts_decoder_round_trips_targets_and_pair_order() -> None:
    decoder = create_decoder("darts", latent_dim=8, hidden=32)
    genotypes = [*_cells(50), DESCENDING]
    targets = decoder.targets(genotypes)
    assert targets.shape == (51, 32)
    logits = torch.full((51, 32, 10), -1.0).scatter(2, targets.unsqueeze(-1), 1.0)
    assert [str(g) for g in decoder.genotypes(logits)] == [str(g) for g in genotypes]
    loss = decoder.loss(decoder(torch.randn(51, 8)), targets)
    assert torch.isfinite(loss) and loss > 0
    with pytest.raises(ValueError, match="DARTSGenotype"):
        decoder.targets([get_space("nb201").sample(0)])


def test_darts_training_cells(data_store) -> None:
    cells = training_cells("darts", data_store)
    assert len(cells) == 11721 == len({str(g) for g in cells})
    assert all(isinstance(g, DARTSGenotype) for g in cells[:10] + cells[-10:])
    assert training_cells_batch("darts", data_store)[1].num_graphs == 11721
    with pytest.raises(ValueError, match="no crlso adapter; spaces with one: darts, nb101, nb201"):
        training_cells("flex", data_store)


def test_darts_cache_key_names_its_cells_nb201_key_unchanged() -> None:
    nb201 = vae_cache_path(ModelConfig(), PretrainConfig(), "/c")
    assert nb201.name == "vae-nb201-0b7f27b8b67878e7.pt"  # the cached NB201 VAE stays valid
    assert vae_cache_path(TINY, PretrainConfig(), "/c").name.startswith("vae-darts-")


def test_darts_pretraining_on_a_subset_reduces_the_loss() -> None:
    cells = _cells(64)
    config = PretrainConfig(epochs=8, batch_size=32, lr=5e-3)
    fresh = build_vae(TINY)
    torch.manual_seed(0)
    vae = pretrain_vae(TINY, config, device=torch.device("cpu"), progress=False, cells=cells)
    again = pretrain_vae(TINY, config, device=torch.device("cpu"), progress=False, cells=cells)
    batch = batch_genotypes(cells)
    targets = vae.decoder.targets(cells)
    with torch.no_grad():
        after = vae.decoder.loss(vae.decoder(encode(vae, batch)), targets)
        before = fresh.decoder.loss(fresh.decoder(encode(fresh, batch)), targets)
    assert after < before
    assert torch.equal(encode(vae, batch), encode(again, batch))  # seeded
    assert all(isinstance(g, DARTSGenotype) for g in vae.decoder.decode(encode(vae, batch)))


def test_graph_bank_grows_and_matches_subset_batch() -> None:
    cells = _cells(6)
    base = batch_genotypes(cells[:4])
    bank = GraphBank(base, featurizer_for("darts"))
    index = torch.tensor([3, 0, 2])
    same, reference = bank.select(index), subset_batch(base, index)
    assert torch.equal(same.x, reference.x) and torch.equal(same.edge_index, reference.edge_index)
    bank.extend(cells[4:])
    assert len(bank) == 6 and base.num_graphs == 4  # the base batch is not modified
    mixed = bank.select([5, 1])
    expected = batch_genotypes([cells[5], cells[1]])
    assert torch.equal(mixed.x, expected.x) and torch.equal(mixed.edge_index, expected.edge_index)


def test_train_cli_on_darts(data_store, tmp_path) -> None:
    """`crlso train --space darts`: labels from NB301 only, a checkpoint `load_models` rebuilds."""
    import json

    from crlso.models.torch_files import save_torch_atomic
    from crlso.models.checkpoints import load_checkpoint, load_models
    from crlso.cli import main
    from nasspace.benchmarks.subsets import SubsetTable

    model = ModelConfig(space="darts", latent_dim=8, gnn_hidden=16, decoder_hidden=16, icnn_hidden=16, predictor_hidden=16)
    torch.manual_seed(0)  # a stub stands in for the (slow) pre-training on the 11,721 cells
    save_torch_atomic(vae_cache_path(model, PretrainConfig(epochs=1), tmp_path), {"state_dict": build_vae(model).state_dict()})
    out = tmp_path / "run"
    code = main(["train", "--space", "darts", "--labels", "400", "--latent-fit", "--joint-epochs", "1", "--pretrain-epochs", "1",
                 "--predictor-epochs", "5", "--epochs", "5", "--ensemble", "1", "--forest-trees", "20",
                 "--hidden", "16", "--latent-dim", "8", "--cache-dir", str(tmp_path),
                 "--out", str(out), "--data-dir", str(data_store.data_dir)])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["labels"] == 400 and -1.0 <= summary["kendall_tau_unlabelled"] <= 1.0
    nb301 = {str(g) for g in SubsetTable("darts", store=data_store).genotypes}
    payload = load_checkpoint(out / "checkpoint.pt")
    assert len(payload["genotypes"]) == 400 and set(payload["genotypes"]) <= nb301
    models = load_models(out / "checkpoint.pt")
    assert set(models) == {"vae", "icnn", "predictor"}
    assert main(["train", "--space", "darts", "--labels", "501", "--cache-dir", str(tmp_path), "--out", str(tmp_path / "bad"),
                 "--data-dir", str(data_store.data_dir)]) == 2
