"""The supernet evaluator: held-out images, inherited weights, untouched running statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from darts_backend.data import load_dataset
from darts_backend.evaluate import SupernetEvaluator
from darts_backend.runs.evaluators import load_evaluator
from darts_backend.runs.search import SearchRunConfig, load_search_network, run_search
from darts_backend.supernets import NB201SearchNetwork
from nasspace import get_space


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = SearchRunConfig(method="single-darts", data="synthetic", seed=3, channels=4, cells=1, epochs=1,
                             batch_size=32, limit_train=96, threads=1)
    run_search(config, out, progress=False)
    return out


def test_held_out_images_of_an_image_tar_are_disjoint_from_the_run_subset(tmp_path) -> None:
    import tarfile

    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        folder = tmp_path / "imgs" / "train" / cls
        folder.mkdir(parents=True)
        for i in range(10):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    with tarfile.open(tmp_path / "imgs.tar", "w") as tar:
        tar.add(tmp_path / "imgs", arcname=".")
    key = lambda s: {bytes(img.numpy().tobytes()) for img in s.images}  # noqa: E731
    for source in (tmp_path / "imgs", tmp_path / "imgs.tar"):
        used = load_dataset(source, "train", limit=12, generator=torch.Generator().manual_seed(5))  # as run_search draws
        rest = load_dataset(source, "train", limit=100, offset=12, generator=torch.Generator().manual_seed(5))
        assert len(rest) == 8 and not key(used) & key(rest) and len(key(used) | key(rest)) == 20
    with pytest.raises(ValueError, match="offset must be in"):
        load_dataset(tmp_path / "imgs.tar", "train", limit=3, offset=20)


def test_offset_gives_images_disjoint_from_the_training_subset() -> None:
    full = load_dataset("synthetic", "train", limit=200, generator=torch.Generator().manual_seed(0))
    first = full.limit(50, generator=torch.Generator().manual_seed(1))
    rest = full.limit(60, offset=50, generator=torch.Generator().manual_seed(1))
    key = lambda s: {bytes(img.numpy().tobytes()) for img in s.images}  # noqa: E731
    assert len(rest) == 60 and not key(first) & key(rest)
    assert full.limit(None, offset=190, generator=torch.Generator().manual_seed(1)).images.shape[0] == 10
    with pytest.raises(ValueError, match="offset 200 leaves none"):
        full.limit(5, offset=200)


def test_loaded_network_is_the_checkpointed_one(run_dir) -> None:
    network, config = load_search_network(run_dir)
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)["searcher"]["network"]
    assert config["channels"] == 4 and torch.equal(network.alphas.detach(), state["alphas"])


def test_scores_are_deterministic_and_leave_running_statistics_alone(run_dir) -> None:
    evaluator = load_evaluator(run_dir, images=64, batch_size=32)
    assert evaluator.num_images == 64
    space = get_space("nb201")
    cells = [space.sample(np.random.default_rng(i)) for i in range(4)]
    before = {k: v.clone() for k, v in evaluator.network.named_buffers() if "running" in k or "num_batches" in k}
    assert any("running_mean" in k for k in before) and any("num_batches" in k for k in before)
    first = evaluator.evaluate(cells)
    assert [s.key for s in evaluator.evaluate(cells)] == [s.key for s in first]
    after = dict(evaluator.network.named_buffers())
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(0.0 <= s.accuracy <= 100.0 and s.loss > 0 for s in first) and evaluator.evaluated == 8
    assert evaluator.score(cells) == [s.accuracy for s in first]


def test_scores_depend_on_the_genotype_only_through_its_ops(run_dir) -> None:
    network = NB201SearchNetwork(C=4, N=1, generator=torch.Generator().manual_seed(0))
    x, y = torch.randn(16, 3, 8, 8), torch.randint(0, 10, (16,))
    evaluator = SupernetEvaluator(network, [(x, y)])
    space = get_space("nb201")
    cell = space.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|")
    other = space.parse("|skip_connect~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|")
    loss = evaluator.evaluate([cell])[0].loss
    assert loss != evaluator.evaluate([other])[0].loss
    with torch.no_grad():  # alphas do not enter a fixed genotype's score
        network.alphas.normal_()
    assert evaluator.evaluate([cell])[0].loss == pytest.approx(loss)


def test_errors_name_the_problem(run_dir, tmp_path, monkeypatch) -> None:
    with pytest.raises(ValueError, match="no config.json"):
        load_evaluator(tmp_path)
    with pytest.raises(ValueError, match="at least one held-out batch"):
        SupernetEvaluator(NB201SearchNetwork(C=4, N=1), [])
    with pytest.raises(ValueError, match="images and batch_size must be >= 1"):
        load_evaluator(run_dir, images=0)
    import darts_backend.runs.search

    network, config = load_search_network(run_dir)
    monkeypatch.setattr(darts_backend.runs.search, "load_search_network", lambda *a: (network, {**config, "limit_train": None}))
    with pytest.raises(ValueError, match="none of it is held out"):
        load_evaluator(run_dir)
    assert load_evaluator(run_dir, split="test", images=32).num_images == 32  # an explicit split is allowed


def test_darts_space_run_gives_outcome_seeds_and_an_evaluator(tmp_path) -> None:
    import math

    from darts_backend.runs.results import load_outcome
    from nasspace.darts import DARTSGenotype

    config = SearchRunConfig(method="single-darts", space="darts", data="synthetic", seed=0, channels=4, cells=3,
                             epochs=1, batch_size=16, limit_train=48, threads=1)
    result = run_search(config, tmp_path, progress=False)
    assert isinstance(result.genotype, DARTSGenotype) and result.nb201_test_acc is None
    outcome = load_outcome(tmp_path)
    assert outcome.space == "darts" and outcome.genotype == result.genotype
    top = outcome.top_cells(5)
    assert len({str(g) for g in top}) == 5 and all("none" not in str(g) for g in top)
    p = outcome.probabilities
    ops = list(outcome.ops)

    def logp(g: DARTSGenotype) -> float:  # the cell's probability under the final alphas
        total = 0.0
        for c, cell in enumerate((g.normal, g.reduce)):
            for k, (op, j) in enumerate(cell):
                node = k // 2
                total += math.log(p[c][sum(range(2, node + 2)) + j][ops.index(op)])
        return total

    scores = [logp(g) for g in top]
    assert scores == sorted(scores, reverse=True)
    space = get_space("darts")
    others = [g for g in (space.sample(np.random.default_rng(i)) for i in range(50)) if str(g) not in {str(t) for t in top}]
    assert all(logp(g) <= scores[-1] + 1e-9 for g in others)  # no other cell is more probable than the 5th
    evaluator = load_evaluator(tmp_path, images=32)
    first = evaluator.evaluate(top[:2])
    assert [s.key for s in evaluator.evaluate(top[:2])] == [s.key for s in first]
