"""The single-path evaluator: BN re-estimated per path, every buffer restored, held-out train images only."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from darts_backend.data import load_dataset
from darts_backend.evaluate import SinglePathEvaluator
from darts_backend.runs.evaluators import load_screener, load_single_path_evaluator
from darts_backend.runs.search import SearchRunConfig, run_search
from darts_backend.supernets import DartsSearchNetwork, NB201SearchNetwork
from nasspace import get_space


def _batches(seed: int, n: int = 2, size: int = 16) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(size, 3, 8, 8, generator=g), torch.randint(0, 10, (size,), generator=g)) for _ in range(n)]


def _bn_state(network: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in network.named_buffers() if "running" in k or "num_batches" in k}


def _nb201() -> NB201SearchNetwork:
    network = NB201SearchNetwork(C=4, N=1, generator=torch.Generator().manual_seed(0))
    network.train()
    with torch.no_grad():  # running statistics that differ from a fresh BN's, so a reset would show
        for x, _ in _batches(9):
            network(x)
    return network


def _darts() -> DartsSearchNetwork:
    network = DartsSearchNetwork(C=4, num_cells=3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for x, _ in _batches(9):
            network(x)
    return network


@pytest.mark.parametrize("make", [_nb201, _darts], ids=["nb201", "darts"])
def test_every_bn_buffer_momentum_and_mode_come_back_exactly(make) -> None:
    network = make()
    norms = [m for m in network.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    norms[0].momentum = 0.3
    before, momenta = _bn_state(network), [m.momentum for m in norms]
    assert any(int(v) > 0 for k, v in before.items() if "num_batches" in k)
    space = get_space("nb201" if isinstance(network, NB201SearchNetwork) else "darts")
    cells = [space.sample(i) for i in range(3)]
    evaluator = SinglePathEvaluator(network, _batches(1), _batches(2))
    evaluator.evaluate(cells)
    after = _bn_state(network)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert [m.momentum for m in norms] == momenta and network.training
    network.eval()
    evaluator.evaluate(cells[:1])
    assert not network.training
    other = get_space("darts" if space.name == "nb201" else "nb201").sample(0)
    with pytest.raises(ValueError):  # a failure half-way still restores everything
        evaluator.evaluate([cells[0], other])
    assert all(torch.equal(before[k], v) for k, v in _bn_state(network).items())
    assert [m.momentum for m in norms] == momenta


@pytest.mark.parametrize("make", [_nb201, _darts], ids=["nb201", "darts"])
def test_scores_use_statistics_re_estimated_for_the_path(make) -> None:
    network = make()
    space = get_space("nb201" if isinstance(network, NB201SearchNetwork) else "darts")
    cell = space.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|") \
        if space.name == "nb201" else space.sample(4)
    evaluator = SinglePathEvaluator(network, _batches(1), _batches(2))
    first = evaluator.evaluate([cell])[0]
    with torch.no_grad():  # whatever the supernet's stored statistics are, they are not what scores the path
        for name, buf in network.named_buffers():
            if "running_mean" in name:
                buf.normal_()
            elif "running_var" in name:
                buf.uniform_(0.5, 3.0)
    assert evaluator.evaluate([cell])[0].loss == pytest.approx(first.loss, rel=1e-5)
    other = SinglePathEvaluator(network, _batches(1), _batches(3))  # other calibration images, other statistics
    assert other.evaluate([cell])[0].loss != pytest.approx(first.loss, rel=1e-6)


def test_manual_recalibration_gives_the_same_score() -> None:
    network = _darts()
    cell = get_space("darts").sample(2)
    calibration, scoring = _batches(2, n=3), _batches(1)
    expected = SinglePathEvaluator(network, scoring, calibration).evaluate([cell])[0]
    copy = _darts()
    copy.load_state_dict(network.state_dict())
    for m in copy.modules():
        if isinstance(m, nn.BatchNorm2d) and m.track_running_stats:
            m.reset_running_stats()
            m.momentum = None
    copy.train()
    with torch.no_grad():
        for x, _ in calibration:
            copy(x, genotype=cell)
        copy.eval()
        losses = [nn.functional.cross_entropy(copy(x, genotype=cell), y, reduction="sum") for x, y in scoring]
    assert expected.loss == pytest.approx(float(sum(losses)) / 32, rel=1e-5)


@pytest.fixture(scope="module")
def spos_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("spos")
    config = SearchRunConfig(method="spos", data="synthetic", seed=2, channels=4, cells=1, epochs=1, batch_size=16,
                             limit_train=64, threads=1,
                             options=("select_candidates=2", "select_calibration=8", "select_images=8"))
    run_search(config, out, progress=False)
    return out


def test_a_run_folder_gives_disjoint_held_out_train_images(spos_run) -> None:
    evaluator = load_single_path_evaluator(spos_run, images=40, calibration_images=24, batch_size=16)
    assert (evaluator.num_images, evaluator.num_calibration_images) == (40, 24)
    key = lambda batches: {x.numpy().tobytes() for b, _ in batches for x in b}  # noqa: E731
    scoring, calibration = key(evaluator.batches), key(evaluator.calibration)
    assert not scoring & calibration
    gen = torch.Generator().manual_seed(2)
    trained = load_dataset("synthetic", "train", limit=64, generator=gen)  # as run_search drew its images
    mean = torch.tensor((0.4914, 0.4822, 0.4465)).view(1, 3, 1, 1) * 255
    inv = 1 / (torch.tensor((0.2470, 0.2435, 0.2616)).view(1, 3, 1, 1) * 255)
    seen = {x.numpy().tobytes() for x in (trained.images.float() - mean) * inv}
    assert not seen & (scoring | calibration)
    cells = [get_space("nb201").sample(i) for i in range(3)]
    assert [s.key for s in evaluator.evaluate(cells)] == [s.key for s in evaluator.evaluate(cells)]


def test_screeners_by_name_and_errors(spos_run) -> None:
    assert isinstance(load_screener("single-path", spos_run, images=8, calibration_images=8), SinglePathEvaluator)
    assert not isinstance(load_screener("mixture", spos_run, images=8), SinglePathEvaluator)
    with pytest.raises(ValueError, match="valid: mixture, single-path"):
        load_screener("oracle", spos_run)
    with pytest.raises(ValueError, match="held-out train images only"):
        load_screener("single-path", spos_run, split="test")
    with pytest.raises(ValueError, match="at least one calibration batch"):
        SinglePathEvaluator(NB201SearchNetwork(C=4, N=1), _batches(1), [])
    with pytest.raises(ValueError, match="calibration_images and batch_size must be >= 1"):
        load_single_path_evaluator(spos_run, calibration_images=0)


def test_a_run_on_the_whole_train_split_scores_on_its_selection_share(tmp_path) -> None:
    config = SearchRunConfig(method="spos", data="synthetic", seed=3, channels=4, cells=1, epochs=1, batch_size=50,
                             valid_fraction=0.1, threads=1,
                             options=("select_candidates=1", "select_calibration=8", "select_images=8"))
    run_search(config, tmp_path, progress=False)  # synthetic: 1,000 images, 900 train the weights
    evaluator = load_single_path_evaluator(tmp_path, images=60, calibration_images=40, batch_size=50)
    assert (evaluator.num_images, evaluator.num_calibration_images) == (60, 40)
    gen = torch.Generator().manual_seed(3)
    trained, held = load_dataset("synthetic", "train", generator=gen).split(0.9, generator=gen)
    key = lambda images: {x.numpy().tobytes() for x in images}  # noqa: E731
    mean = torch.tensor((0.4914, 0.4822, 0.4465)).view(1, 3, 1, 1) * 255
    inv = 1 / (torch.tensor((0.2470, 0.2435, 0.2616)).view(1, 3, 1, 1) * 255)
    used = key(x for b, _ in evaluator.batches + evaluator.calibration for x in b)
    assert used <= key((held.images.float() - mean) * inv) and not used & key((trained.images.float() - mean) * inv)
    with pytest.raises(ValueError, match="none of it is held out"):  # a mixture-trained run on all images has none
        from darts_backend.runs.evaluators import held_out_images

        held_out_images(tmp_path, {**json.loads((tmp_path / "config.json").read_text()), "method": "single-darts"}, 8)
