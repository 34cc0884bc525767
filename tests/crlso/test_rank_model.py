"""The ranking model behind `crlso train`, `crlso rank` and `crlso rank-bench`."""

from __future__ import annotations

import csv
import dataclasses
import json

import numpy as np
import pytest
import torch
from scipy import stats

from crlso.cli import main
from crlso.models.config import PretrainConfig, build_vae, default_model_config
from crlso.models.training import vae_cache_path
from nasspace import get_space

SMALL = {"latent_dim": 4, "gnn_hidden": 8, "decoder_hidden": 8, "icnn_hidden": 8, "predictor_hidden": 8}
FLAGS = ["--hidden", "8", "--latent-dim", "4", "--pretrain-epochs", "1", "--ensemble", "2", "--epochs", "40",
         "--forest-trees", "60"]


def _stub_vae(space: str, cache_dir) -> None:
    """A random VAE stands in for the (slow) unlabelled pre-training, under the key `crlso train` looks up."""
    from crlso.models.torch_files import save_torch_atomic

    model = dataclasses.replace(default_model_config(space), **SMALL)
    torch.manual_seed(0)
    save_torch_atomic(vae_cache_path(model, PretrainConfig(epochs=1), cache_dir), {"state_dict": build_vae(model).state_dict()})


def _nb201_cells(count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    space = get_space("nb201")
    cells = {}
    while len(cells) < count:
        g = space.sample(rng)
        cells.setdefault(str(g), g)
    return list(cells.values())


def _quality(genotype) -> float:
    """A made-up accuracy fraction: more 3x3 convolutions are better."""
    return 0.5 + 0.08 * sum(op == "nor_conv_3x3" for op in genotype.ops) + 0.01 * sum(op == "nor_conv_1x1" for op in genotype.ops)


def test_tree_ensemble_predicts_as_sklearn() -> None:
    pytest.importorskip("sklearn")
    from crlso.ranking.model import TreeEnsemble, fit_forest

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    y = 2 * x[:, 0] - x[:, 3] + rng.normal(scale=0.1, size=300)
    forest = fit_forest(x[:150], y[:150], trees=15, seed=0, max_features=0.5)
    arrays = TreeEnsemble.from_state(TreeEnsemble.from_sklearn(forest).state())
    np.testing.assert_allclose(arrays.predict(x), forest.predict(x), rtol=0, atol=1e-12)


@pytest.fixture(scope="module")
def nb201_run(tmp_path_factory, data_store):
    """`crlso train` on a percent-valued label file (higher is better); held-out cells with their truth."""
    root = tmp_path_factory.mktemp("rank-nb201")
    _stub_vae("nb201", root)
    cells = _nb201_cells(90)
    train, held = cells[:60], cells[60:]
    labels = root / "labels.csv"
    with labels.open("w") as handle:
        writer = csv.writer(handle)
        writer.writerow(["genotype", "value"])
        writer.writerows([str(g), 100 * _quality(g)] for g in train)
    source = root / "held.txt"
    source.write_text("\n".join(map(str, held)) + "\n")
    out = root / "run"
    assert main(["train", "--label-file", str(labels), "--label-direction", "higher", "--label-scale", "percent",
                 *FLAGS, "--cache-dir", str(root), "--out", str(out), "--data-dir", str(data_store.data_dir)]) == 0
    return root, out, held, source


def _ranked(path) -> list[dict]:
    return list(csv.DictReader(path.open()))


def test_train_then_rank_on_nb201(nb201_run) -> None:
    root, run, held, source = nb201_run
    config = json.loads((run / "config.json").read_text())
    assert config["label"]["direction"] == "higher" and config["label"]["scale"] == "percent"
    assert config["versions"]["rank_model"] == 1 and config["space"] == "nb201"
    out = root / "ranked.csv"
    assert main(["rank", str(source), "--checkpoint", str(run / "checkpoint.pt"), "--out", str(out)]) == 0
    rows = _ranked(out)
    assert sorted(r["genotype"] for r in rows) == sorted(map(str, held))
    assert all(float(r["uncertainty"]) >= 0 for r in rows) and any(float(r["uncertainty"]) > 0 for r in rows)
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    truth = {str(g): _quality(g) for g in held}
    tau = stats.kendalltau(scores, [truth[r["genotype"]] for r in rows]).statistic
    assert tau > 0.3, tau
    predicted = [float(r["predicted"]) for r in rows]
    assert 40 < np.mean(predicted) < 100  # in the label's units (percent)
    top = root / "top.csv"
    assert main(["rank", str(source), "--checkpoint", str(run / "checkpoint.pt"), "--out", str(top), "--top", "3"]) == 0
    assert [r["genotype"] for r in _ranked(top)] == [r["genotype"] for r in rows[:3]]


def test_the_checkpoint_refuses_another_space_or_metric(nb201_run, capsys) -> None:
    from crlso.models.checkpoints import load_ranker

    root, run, _, source = nb201_run
    checkpoint = str(run / "checkpoint.pt")
    for flags, words in ((["--space", "darts"], "'nb201' space"), (["--metric", "test_acc"], "metric 'valid_acc'")):
        assert main(["rank", str(source), "--checkpoint", checkpoint, "--out", str(root / "x.csv"), *flags]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1
    with pytest.raises(ValueError, match="'nb201' space, not 'darts'"):
        load_ranker(checkpoint, space="darts")
    with pytest.raises(ValueError, match="metric 'valid_acc', not 'loss'"):
        load_ranker(checkpoint, metric="loss")
    assert not (root / "x.csv").exists()


@pytest.mark.parametrize("scale, direction", [pytest.param("fraction", "higher", marks=pytest.mark.slow), ("fraction", "lower"),
                                              pytest.param("raw", "lower", marks=pytest.mark.slow)])
def test_scores_follow_the_declared_direction(tmp_path, data_store, scale: str, direction: str) -> None:
    """Fraction accuracies (higher better), fraction errors and raw losses (lower better): the best
    true cells get the best scores, and `predicted` is in the label's own units and direction."""
    _stub_vae("nb201", tmp_path)
    cells = _nb201_cells(90, seed=1)
    train, held = cells[:60], cells[60:]

    def label(g) -> float:
        q = _quality(g)
        return q if direction == "higher" else (1 - q if scale == "fraction" else 5.0 * (1.2 - q))

    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps({"genotype": str(g), "err": label(g)}) + "\n" for g in train))
    run = tmp_path / "run"
    assert main(["train", "--label-file", str(labels), "--label-column", "err", "--label-direction", direction,
                 "--label-scale", scale, *FLAGS, "--cache-dir", str(tmp_path), "--out", str(run),
                 "--data-dir", str(data_store.data_dir)]) == 0
    source = tmp_path / "held.txt"
    source.write_text("\n".join(map(str, held)) + "\n")
    out = tmp_path / "ranked.csv"
    assert main(["rank", str(source), "--checkpoint", str(run / "checkpoint.pt"), "--out", str(out)]) == 0
    rows = _ranked(out)
    truth = [label(get_space("nb201").parse(r["genotype"])) for r in rows]
    sign = 1 if direction == "higher" else -1
    assert stats.kendalltau([float(r["score"]) for r in rows], np.multiply(sign, truth)).statistic > 0.3
    assert stats.kendalltau([float(r["predicted"]) for r in rows], truth).statistic > 0.3  # label units, label direction


def test_a_declared_scale_the_labels_break_is_refused(tmp_path, capsys) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("genotype,value\n" + "".join(f"{g},{90 + i}\n" for i, g in enumerate(_nb201_cells(3))))
    assert main(["train", "--label-file", str(labels), "--label-direction", "higher", "--label-scale", "fraction",
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "--label-scale fraction needs values in [0, 1]" in err and err.count("\n") == 1


@pytest.mark.slow  # builds the 500 NB301 reference graphs and fits on 60 of them: ~1-3 min on a loaded 2-core CPU
def test_train_then_rank_on_darts(tmp_path, data_store) -> None:
    """Benchmark labels of 60 NB301 cells; the other NB301 cells ranked with the checkpoint."""
    from nasspace.benchmarks.subsets import SubsetTable

    _stub_vae("darts", tmp_path)
    run = tmp_path / "run"
    assert main(["train", "--space", "darts", "--labels", "60", *FLAGS, "--cache-dir", str(tmp_path), "--out", str(run),
                 "--data-dir", str(data_store.data_dir)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["labels"] == 60 and summary["reference_cells"] == 500 and -1 <= summary["kendall_tau_unlabelled"] <= 1
    subset = SubsetTable("darts", store=data_store)
    seen = set(json.loads(json.dumps(torch.load(run / "checkpoint.pt", weights_only=True)["genotypes"])))
    held = [g for g in subset.genotypes if str(g) not in seen][:25]
    source = tmp_path / "held.jsonl"
    source.write_text("".join(json.dumps(str(g)) + "\n" for g in held))
    out = tmp_path / "ranked.csv"
    assert main(["rank", str(source), "--checkpoint", str(run / "checkpoint.pt"), "--space", "darts", "--out", str(out)]) == 0
    rows = _ranked(out)
    assert len(rows) == 25 and {"score", "predicted", "uncertainty"} <= set(rows[0])
    assert all(float(r["uncertainty"]) >= 0 for r in rows)
    assert all(85 < float(r["predicted"]) < 100 for r in rows)  # NB301 accuracies in percent


def _proxy_file(path, space: str, proxy: str, scores: dict) -> str:
    path.write_text(json.dumps({"format_version": 1, "settings": {"space": space, "proxy": proxy, "seed": 0}, "scores": scores}))
    return str(path)


def test_proxy_files_are_read_as_features(tmp_path) -> None:
    from crlso.ranking.proxy_features import MISSING, MissingProxy, read_proxy_files

    synflow = _proxy_file(tmp_path / "s.json", "nb201", "synflow", {"a": 1e37, "b": None, "c": -3.0})
    params = _proxy_file(tmp_path / "p.json", "nb201", "params", {"a": 0.5, "b": 0.2})
    proxies = read_proxy_files([synflow, params], space="nb201")
    assert proxies.names == ("synflow", "params") and set(proxies.values) == {"a", "b"}  # the cells both files score
    features = proxies.matrix(["b", "a"])
    assert features.shape == (2, 2) and np.isfinite(features).all()
    assert features[0, 0] == MISSING and features[1, 0] == pytest.approx(np.log1p(1e37))  # undefined synflow; monotone log
    with pytest.raises(MissingProxy, match="first: c"):
        proxies.matrix(["c"])
    with pytest.raises(ValueError, match="holds 'nb201' proxy scores; the model is for 'darts'"):
        read_proxy_files([synflow], space="darts")
    with pytest.raises(ValueError, match="repeats proxy 'synflow'"):
        read_proxy_files([synflow, synflow], space="nb201")
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(ValueError, match="not a proxy cache file"):
        read_proxy_files([str(tmp_path / "bad.json")], space="nb201")
