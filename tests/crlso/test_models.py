"""Featurization, encoder, decoder validity, VAE, predictor, checkpoints (tiny, CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from crlso.models.checkpoints import load_checkpoint, load_models, save_checkpoint
from crlso.models.spaces import create_decoder, list_adapters as list_decoders
from crlso.models.graphs import batch_genotypes, featurizer_for, to_data
from crlso.models.config import ModelConfig, build_icnn, build_predictor, build_vae
from nasspace import get_space
from nasspace.nb201 import NB201Genotype

TINY = ModelConfig(gnn_hidden=16, gnn_layers=2, latent_dim=8, decoder_hidden=32, decoder_blocks=1,
                   icnn_hidden=16, predictor_hidden=16, predictor_layers=2)


def _cells(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [get_space("nb201").sample(rng) for _ in range(n)]


def test_featurization_shapes() -> None:
    space = get_space("nb201")
    genotype = space.parse("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|")
    data = to_data(genotype)
    featurizer = featurizer_for("nb201")
    graph = space.to_graph(genotype)
    assert data.x.shape == (8, featurizer.node_dim)
    assert data.edge_index.shape == (2, 2 * len(graph.edges))
    assert data.edge_attr.shape == (2 * len(graph.edges), 2)
    assert torch.equal(data.x[:, : len(graph.vocabulary)].argmax(1), torch.tensor(graph.op_indices()))
    batch = batch_genotypes(_cells(5))
    assert batch.num_graphs == 5 and batch.x.shape[0] == 40


def test_unknown_space_lists_choices() -> None:
    with pytest.raises(ValueError, match="nb201"):
        featurizer_for("nope")
    with pytest.raises(ValueError, match="valid.*nb201"):
        create_decoder("nope", latent_dim=4)
    assert "nb201" in list_decoders()


@pytest.mark.parametrize("scale", [0.0, 1.0, 100.0])
def test_decoder_always_valid(scale: float) -> None:
    torch.manual_seed(0)
    decoder = create_decoder("nb201", latent_dim=8, hidden=32)
    z = scale * torch.randn(300, 8)
    genotypes = decoder.decode(z)
    space = get_space("nb201")
    assert len(genotypes) == 300
    for g in genotypes:
        assert isinstance(g, NB201Genotype)
        assert space.parse(str(g)) == g


def test_vae_forward_and_loss() -> None:
    vae = build_vae(TINY)
    cells = _cells(6)
    out = vae(batch_genotypes(cells))
    assert out.z.shape == (6, 8) and out.logits.shape == (6, 6, 5)
    loss = vae.decoder.loss(out.logits, vae.decoder.targets(cells)) + 0.005 * vae.kl(out.posterior)
    assert torch.isfinite(loss)
    loss.backward()
    assert len(vae.decoder.decode(out.z.detach())) == 6


def test_predictor_shape() -> None:
    predictor = build_predictor(TINY)
    assert predictor(batch_genotypes(_cells(3))).shape == (3,)


def test_checkpoint_round_trip(tmp_path) -> None:
    models = {"vae": build_vae(TINY), "icnn": build_icnn(TINY), "predictor": build_predictor(TINY)}
    models["predictor"].register_buffer("target_mean", torch.tensor(0.3))
    models["predictor"].register_buffer("target_std", torch.tensor(0.1))
    path = save_checkpoint(tmp_path / "ckpt.pt", models=models, model_config=TINY, genotypes=[str(_cells(1)[0])])
    payload = load_checkpoint(path)  # weights_only=True inside
    assert payload["model_config"]["latent_dim"] == 8 and len(payload["genotypes"]) == 1
    loaded = load_models(path)
    z = torch.randn(4, 8)
    with torch.no_grad():
        assert torch.allclose(loaded["icnn"](z), models["icnn"](z))
    assert float(loaded["predictor"].target_mean) == pytest.approx(0.3)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_positions_readout_keeps_node_identity_and_batches_independently() -> None:
    from torch_geometric.data import Batch, Data

    from crlso.models.encoder import GNNBody

    torch.manual_seed(0)
    body = GNNBody(node_dim=4, edge_dim=2, hidden=8, num_layers=1, readout="positions", max_nodes=5).eval()
    summed = GNNBody(node_dim=4, edge_dim=2, hidden=8, num_layers=1).eval()
    summed.load_state_dict(body.state_dict(), strict=False)
    x = torch.eye(4)[[0, 1, 2, 3]]
    no_edges = dict(edge_index=torch.zeros(2, 0, dtype=torch.long), edge_attr=torch.zeros(0, 2))
    a, b = Data(x=x, **no_edges), Data(x=x.flip(0), **no_edges)  # the same nodes in another order
    small = Data(x=torch.eye(4)[[2, 1]], **no_edges)
    with torch.no_grad():
        both = body(Batch.from_data_list([a, b, small]))
        assert torch.allclose(summed(Batch.from_data_list([a]))[0], summed(Batch.from_data_list([b]))[0], atol=1e-6)
        assert not torch.allclose(both[0], both[1])  # which node holds which op is kept
        assert torch.allclose(both[2], body(Batch.from_data_list([small]))[0], atol=1e-6)  # padding, no leakage
    with pytest.raises(ValueError, match="positions needs max_nodes"):
        GNNBody(node_dim=4, edge_dim=2, readout="positions")


def test_default_model_configs_keep_the_nb201_cache_key() -> None:
    from crlso.models.config import ModelConfig, PretrainConfig, default_model_config
    from crlso.models.training import vae_cache_path

    assert default_model_config("nb201") == ModelConfig()
    assert vae_cache_path(ModelConfig(), PretrainConfig()).name == "vae-nb201-0b7f27b8b67878e7.pt"
    darts = default_model_config("darts")
    assert darts.readout == "positions" and vae_cache_path(darts, PretrainConfig()) != vae_cache_path(ModelConfig(space="darts"), PretrainConfig())


# -- issue 16 item 7: checkpoints and caches -----------------------------------------------------------
def _flip_byte(path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    offset = len(data) // 2 if offset is None else offset
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["truncated", "garbage", "flipped", "foreign", "other_sizes"])
def test_a_corrupt_or_foreign_checkpoint_is_one_clear_error(damage, tmp_path) -> None:
    models = {"vae": build_vae(TINY), "icnn": build_icnn(TINY)}
    path = save_checkpoint(tmp_path / "ckpt.pt", models=models, model_config=TINY)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    elif damage == "garbage":
        path.write_bytes(b"\x80\x04not a torch file" * 10)
    elif damage == "flipped":
        _flip_byte(path, 40)  # inside the zip directory names
    elif damage == "foreign":
        torch.save({"format_version": 1, "model_config": {"hidden": 3}, "config": {}, "state_dicts": {}}, path)
    else:
        bigger = ModelConfig(**{**TINY.__dict__, "latent_dim": 12})
        save_checkpoint(path, models={"vae": build_vae(bigger)}, model_config=TINY)
    with pytest.raises(ValueError, match=str(path).replace(".", r"\.")) as info:
        load_models(path)
    assert "\n" not in str(info.value)


def test_a_damaged_vae_cache_is_detected_and_rebuilt(tmp_path, monkeypatch) -> None:
    import warnings

    import crlso.models.training as training
    from crlso.models.torch_files import checksum_path
    from crlso.models.config import PretrainConfig
    from crlso.models.training import cached_pretrained_vae

    pretrained = []
    real = training.pretrain_vae
    monkeypatch.setattr(training, "pretrain_vae", lambda *a, **k: pretrained.append(1) or real(*a, **k))
    tiny, pretrain = TINY, PretrainConfig(epochs=1, batch_size=4096)
    vae, path = cached_pretrained_vae(tiny, pretrain, cache_dir=tmp_path, device=torch.device("cpu"), progress=False)
    assert checksum_path(path).is_file() and len(pretrained) == 1
    reference = {k: v.clone() for k, v in vae.state_dict().items()}
    cached_pretrained_vae(tiny, pretrain, cache_dir=tmp_path, device=torch.device("cpu"), progress=False)
    assert len(pretrained) == 1  # a sound cache is used

    for damage in ("flip a weight bit", "truncate"):
        if damage == "truncate":
            path.write_bytes(path.read_bytes()[:100])
        else:
            _flip_byte(path, path.stat().st_size - 2000)  # inside the last tensor's data
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            again, _ = cached_pretrained_vae(tiny, pretrain, cache_dir=tmp_path, device=torch.device("cpu"), progress=False)
        assert any("damaged and is rebuilt" in str(w.message) for w in caught), damage
        assert all(torch.equal(again.state_dict()[k], reference[k]) for k in reference)  # seeded: the same VAE again
    assert len(pretrained) == 3
    cached_pretrained_vae(tiny, pretrain, cache_dir=tmp_path, device=torch.device("cpu"), progress=False)
    assert len(pretrained) == 3  # the rebuilt cache verifies
