"""SPOS: uniform single-path training (only the sampled path learns), seeded sampling, resume, selection."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from darts_backend.cli import main
from darts_backend.data import BatchLoader, synthetic_images
from darts_backend.runs.presets import preset_values
from darts_backend.runs.results import load_outcome
from darts_backend.runs.search import SearchRunConfig, run_search
from darts_backend.runs.trainer import SearchTrainer, TrainerConfig
from darts_backend.searchers import SposConfig, SposSearcher, create_searcher
from darts_backend.supernets import DartsSearchNetwork, NB201SearchNetwork
from nasspace import get_space
from nasspace.nb201 import NB201_EDGES


class Interrupt(Exception):
    pass


def _nb201(seed: int = 0) -> NB201SearchNetwork:
    return NB201SearchNetwork(C=4, N=1, generator=torch.Generator().manual_seed(seed))


def _darts(seed: int = 0) -> DartsSearchNetwork:
    return DartsSearchNetwork(C=4, num_cells=3, generator=torch.Generator().manual_seed(seed))


def test_sampling_is_seeded_and_uniform_over_the_space() -> None:
    def paths(seed: int, n: int = 30) -> list[str]:
        searcher = SposSearcher(_nb201(), SposConfig(seed=seed))
        return [str(searcher.sample_path()) for _ in range(n)]

    assert paths(3) == paths(3) and paths(3) != paths(4)
    searcher = SposSearcher(_nb201(), SposConfig(seed=0))
    counts = {op: 0 for op in searcher.network.ops}
    for _ in range(400):
        for op in searcher.sample_path().ops:
            counts[op] += 1
    assert all(abs(c / 2400 - 0.2) < 0.04 for c in counts.values())  # 5 ops, none included, each ~1/5
    darts = SposSearcher(_darts(), SposConfig(seed=1))
    ops = {op for _ in range(50) for op, _ in darts.sample_path().normal}
    assert "none" not in ops and len(ops) == 7


def _conv_rows(network: NB201SearchNetwork, path) -> tuple[set, set]:
    """(parameter rows on the path, rows off it) of the packed cell convolutions: (module, src, row block)."""
    cell = network.layers[0]
    on, off = set(), set()
    for src, edges in enumerate(cell.out_edges):
        for slot, (op, layers) in enumerate((("nor_conv_3x3", cell.conv3), ("nor_conv_1x1", cell.conv1))):
            for j, k in enumerate(edges):
                (on if path.ops[k] == op else off).add((slot, src, j))
    return on, off


def test_a_step_trains_only_the_sampled_path_nb201(batch_factory) -> None:
    network = _nb201()
    searcher = SposSearcher(network, SposConfig(seed=5))
    x, y = batch_factory(1)
    before = {name: p.detach().clone() for name, p in network.named_parameters()}
    searcher.train_step((x, y))
    path = searcher.last_path
    assert network.alphas.grad is None and torch.equal(network.alphas, before["alphas"])  # no alphas in SPOS
    cell, C = network.layers[0], network.C
    on, off = _conv_rows(network, path)
    for slot, src, j in off:
        layers = cell.conv3 if slot == 0 else cell.conv1
        grad = layers[src].weight.grad
        assert grad is None or not grad[j * C:(j + 1) * C].any()  # ops off the path get no gradient
    for slot, src, j in on:  # ops on the path do (this seed's path feeds every node)
        grad = (cell.conv3 if slot == 0 else cell.conv1)[src].weight.grad
        assert grad is not None and grad[j * C:(j + 1) * C].abs().sum() > 0
    assert on and off


def test_a_step_trains_only_the_sampled_path_darts(batch_factory) -> None:
    network = _darts()
    searcher = SposSearcher(network, SposConfig(seed=2))
    x, y = batch_factory(1)
    before = {name: p.detach().clone() for name, p in network.named_parameters()}
    searcher.train_step((x, y))
    path = searcher.last_path
    plans = network.genotype_plans(path)
    for c, cell in enumerate(network.cells):
        used = {f"{pair.edge}_{pair.op}" for node in plans[network.layout[c]] for pair in node}
        for key, module in cell.edge_ops.items():
            for name, p in module.named_parameters():
                full = f"cells.{c}.edge_ops.{key}.{name}"
                if key in used:
                    assert p.grad is not None and p.grad.abs().sum() > 0, full
                else:  # never computed: no gradient, and the optimizer leaves it exactly as it was
                    assert p.grad is None and torch.equal(p.detach(), before[full]), full
    assert network.alphas.grad is None


def test_step_and_genotype_contract(batch_factory) -> None:
    searcher = create_searcher("spos", _nb201())
    metrics = searcher.step(batch_factory(1))
    assert set(metrics) == {"loss", "acc"} and np.isfinite(metrics["loss"])
    assert searcher.genotype() == searcher.last_path  # before selection: the last path
    probs = searcher.alpha_probabilities()
    assert np.allclose(probs, 0.2) and np.array(probs).shape == (6, 5)
    darts = SposSearcher(_darts())
    p = np.array(darts.alpha_probabilities())
    assert p.shape == (2, 14, 8) and np.allclose(p[:, :, 0], 0) and np.allclose(p.sum(-1), 1)


def _trainer(out_dir, seed: int = 7, epochs: int = 3) -> SearchTrainer:
    searcher = SposSearcher(_nb201(), SposConfig(epochs=epochs, seed=seed))
    data = synthetic_images(48, size=8, generator=torch.Generator().manual_seed(0))
    return SearchTrainer(searcher, BatchLoader(data, 8, seed=0), None, out_dir, TrainerConfig(epochs=epochs, progress=False))


def test_resume_continues_identically(tmp_path) -> None:
    straight = _trainer(tmp_path / "a")
    straight.fit()

    def crash(epoch, record):
        if epoch == 0:
            raise Interrupt

    first = _trainer(tmp_path / "b")
    with pytest.raises(Interrupt):
        first.fit(on_epoch_end=crash)
    resumed = _trainer(tmp_path / "b")
    assert resumed.resume() == 1
    resumed.fit()
    a, b = straight.searcher.network.state_dict(), resumed.searcher.network.state_dict()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    assert straight.searcher.last_path == resumed.searcher.last_path
    assert straight.searcher.sample_path() == resumed.searcher.sample_path()  # the sampler's state came back too
    metrics = lambda d: [{k: v for k, v in json.loads(line).items() if k not in ("seconds", "images_per_s")}  # noqa: E731
                         for line in (d / "metrics.jsonl").read_text().splitlines()]
    assert metrics(tmp_path / "a") == metrics(tmp_path / "b")


def test_a_run_selects_its_genotype_and_reruns_identically(tmp_path) -> None:
    config = SearchRunConfig(method="spos", data="synthetic", seed=1, channels=4, cells=1, epochs=1, batch_size=16,
                             limit_train=96, valid_fraction=0.25, threads=1,
                             options=("select_candidates=6", "select_calibration=8", "select_images=16"))
    result = run_search(config, tmp_path / "a", progress=False)
    selection = json.loads((tmp_path / "a" / "selection.json").read_text())
    ranked = selection["ranked"]
    assert len(ranked) == 6 and ranked[0]["genotype"] == str(result.genotype)
    assert [r["accuracy"] for r in ranked] == sorted((r["accuracy"] for r in ranked), reverse=True)
    assert (selection["calibration_images"], selection["images"]) == (8, 16)
    assert json.loads((tmp_path / "a" / "config.json").read_text())["train_images"] == 72
    again = run_search(config, tmp_path / "b", progress=False)
    assert again.genotype == result.genotype
    assert json.loads((tmp_path / "b" / "selection.json").read_text())["ranked"] == ranked
    outcome = load_outcome(tmp_path / "a")  # hybrid seeds: the derived cell, then the best selected ones
    without_none = [r["genotype"] for r in ranked if "none" not in r["genotype"]]
    assert outcome.genotype == result.genotype and [str(g) for g in outcome.top_cells(2)] == without_none[:2]
    alphas = json.loads((tmp_path / "a" / "alphas.json").read_text())
    assert alphas["method"] == "spos" and np.allclose(alphas["history"][-1]["alphas"], 0.2)


def test_darts_space_run_and_cli(tmp_path, capsys) -> None:
    out = tmp_path / "d"
    code = main(["search", "--method", "spos", "--space", "darts", "--data", "synthetic", "--out", str(out), "--seed", "0",
                 "--channels", "4", "--cells", "3", "--epochs", "1", "--batch-size", "16", "--limit-train", "64",
                 "--option", "select_candidates=3", "--option", "select_calibration=8", "--option", "select_images=8",
                 "--no-progress"])
    assert code == 0 and "selection.json" in capsys.readouterr().out
    genotype = json.loads((out / "genotype.json").read_text())
    assert genotype["space"] == "darts"
    assert genotype["string"] == json.loads((out / "selection.json").read_text())["ranked"][0]["genotype"]


def test_presets_and_bad_options() -> None:
    paper = SearchRunConfig(method="spos", **preset_values("paper", "spos", "nb201"), preset="paper")
    assert (paper.channels, paper.cells, paper.epochs, paper.batch_size, paper.limit_train) == (16, 5, 250, 64, None)
    assert (paper.optim.w_lr, paper.optim.w_nesterov, paper.optim.w_weight_decay) == (0.025, True, 5e-4)
    o = paper.optim
    assert (o.select_candidates, o.select_calibration, o.select_images, o.seed) == (100, 20000, 5000, 0)
    cpu = SearchRunConfig(method="spos", space="darts", **preset_values("cpu", "spos", "darts"), preset="cpu")
    assert (cpu.channels, cpu.cells, cpu.epochs, cpu.limit_train) == (8, 5, 10, 10000)
    assert SearchRunConfig(method="spos", seed=7).optim.seed == 7  # the run seeds the path sampler
    with pytest.raises(ValueError, match="select_candidates, select_calibration and select_images must be >= 1"):
        SearchRunConfig(method="spos", options=("select_candidates=0",))
    with pytest.raises(ValueError, match="partial channels and edge normalization do not apply"):
        SearchRunConfig(method="spos", partial_channels=2)
    with pytest.raises(ValueError, match="single-path sampling needs"):
        SposSearcher(DartsSearchNetwork(C=4, num_cells=3, mode="per_cell"))
    assert len(NB201_EDGES) == 6 and get_space("nb201").name == "nb201"
