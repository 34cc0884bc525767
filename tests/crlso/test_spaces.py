"""Space adapters, the generic decoder, and a user's own space and table from SPACE.yaml + TABLE.csv."""

from __future__ import annotations

import ast
import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import crlso.models.spaces as spaces_pkg
from crlso.cli import main
from crlso.experiments.run import RunConfig, run_experiment
from crlso.models.choice_decoder import ChoiceDecoder
from crlso.models.config import ModelConfig, PretrainConfig, build_vae, default_model_config
from crlso.models.spaces import get_adapter, list_adapters
from nasspace import get_space, list_spaces
from nasspace.benchmarks.user import register_user_benchmark
from nasspace.errors import DataError

ROOT = Path(spaces_pkg.__file__).parents[3]


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("registry, plugins", [
    ("nasspace/benchmarks/registry.py", ("nasspace.benchmarks.nb201", "nasspace.benchmarks.tnb101", "nasspace.benchmarks.nbgraph")),
    ("nasspace/space.py", ("nasspace.nb201", "nasspace.nb101", "nasspace.darts", "nasspace.flex", "nasspace.nbgraph")),
])
def test_registry_modules_import_no_plugin(registry: str, plugins: tuple[str, ...]) -> None:
    imported = _imported_modules(ROOT / registry)
    assert not imported & set(plugins), f"{registry} imports {sorted(imported & set(plugins))}"


@pytest.mark.parametrize("name", ["nb201", "nb101", "darts", "flex", "tnb101-micro", "nbgraph"])
def test_every_space_round_trips_parse_format_and_hash(name: str) -> None:
    space = get_space(name)
    rng = np.random.default_rng(0)
    for _ in range(20):
        genotype = space.sample(rng)
        again = space.parse(str(genotype))
        assert again == genotype and str(again) == str(genotype)
        assert space.canonical_hash(again) == space.canonical_hash(genotype)
        assert space.from_json(json.dumps(genotype.to_json())) == genotype


def test_every_choice_space_has_an_adapter_and_builds_a_vae() -> None:
    names = list_adapters()
    assert {"nb201", "nb101", "darts", "tnb101-micro", "nbgraph"} <= set(names)
    for name in ("tnb101-micro", "nbgraph"):
        vae = build_vae(dataclasses.replace(default_model_config(name), latent_dim=4, decoder_hidden=16))
        assert isinstance(vae.decoder, ChoiceDecoder)
        decoded = vae.decoder.decode(torch.randn(5, 4))
        assert all(g.space_name == name for g in decoded)
    assert "flex" in list_spaces() and "flex" not in names
    with pytest.raises(ValueError, match="no crlso adapter"):
        get_adapter("flex")


def test_generic_decoder_repairs_rows_outside_an_admissible_set() -> None:
    space = get_space("nbgraph")
    decoder = ChoiceDecoder(space, latent_dim=3, hidden=8, num_blocks=1)
    logits = torch.randn(64, len(space.choice_sizes), decoder.width)
    admissible = {str(g) for g in space.enumerate()}
    assert all(str(g) in admissible for g in decoder.genotypes(logits))


def test_generic_decoder_learns_to_reconstruct_tnb101_cells() -> None:
    from crlso.experiments.reconstruction import reconstruction_accuracy

    torch.set_num_threads(1)
    result = reconstruction_accuracy("tnb101-micro", epochs=10, max_cells=2000, batch_size=32)
    assert result["held_out"] == 200 and result["exact"] >= 0.95, result


# -- a user's space and table ---------------------------------------------------------------------------

SEQ_YAML = "kind: sequence\nlayers: 4\nchoices: [id, mb3k3, mb6k5]\nminimize: [latency]\n"
CELL_YAML = "kind: cell\nname: mycell\nnodes: 4\nops: [none, skip, conv1x1, conv3x3]\nops_on: edge\n"


def _write_sequence(tmp_path: Path) -> tuple[Path, Path]:
    ops = ["id", "mb3k3", "mb6k5"]
    rng = np.random.default_rng(0)
    lines = ["genotype,acc,latency"]
    for row in itertools.product(range(3), repeat=4):
        if rng.random() < 0.8:
            lines.append(f"{'|'.join(ops[i] for i in row)},{sum(row) * 1.5 + rng.random():.3f},{sum(row) * 0.7 + 1:.2f}")
    (tmp_path / "seq.yaml").write_text(SEQ_YAML)
    (tmp_path / "seq.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "seq.yaml", tmp_path / "seq.csv"


def _write_cell(tmp_path: Path) -> tuple[Path, Path]:
    ops = ["none", "skip", "conv1x1", "conv3x3"]
    rng = np.random.default_rng(1)
    lines = ["genotype,valid,test"]
    for row in itertools.product(range(4), repeat=6):
        if rng.random() < 0.5:
            score = sum(row) + rng.random()
            lines.append(f"{'|'.join(ops[i] for i in row)},{score:.3f},{score + rng.normal():.3f}")
    (tmp_path / "cell.yaml").write_text(CELL_YAML)
    (tmp_path / "cell.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "cell.yaml", tmp_path / "cell.csv"


TINY_LATENT = {"crlso": {"n_init": 6, "batch_size": 4, "predictor_epochs": 10, "predictor_refit_epochs": 3,
                         "icnn_steps": 10, "icnn_refit_steps": 3, "pseudo_size": 64},
               "latent_bo": {"n_init": 6}}


@pytest.mark.parametrize("kind", ["sequence", "cell"])
@pytest.mark.parametrize("method", ["crlso", "rea", "local", "latent_bo"])
def test_user_space_and_table_run_end_to_end(kind: str, method: str, tmp_path: Path) -> None:
    space_file, table_file = (_write_sequence if kind == "sequence" else _write_cell)(tmp_path)
    metric, report = ("acc", "acc") if kind == "sequence" else ("valid", "test")
    spec = register_user_benchmark(space_file, table_file, search_metric=metric, report_metric=report)
    options = dict(TINY_LATENT.get(method, {}))
    if method in TINY_LATENT:
        options.update(cache_dir=str(tmp_path / "cache"), pretrain=PretrainConfig(epochs=2, batch_size=256),
                       model=ModelConfig(space=spec.space, gnn_hidden=16, gnn_layers=2, latent_dim=4, decoder_hidden=16,
                                         decoder_blocks=1, icnn_hidden=8, predictor_hidden=8, predictor_layers=1))
    config = RunConfig(method=method, space=spec.space, dataset=spec.dataset, budget=15, seed=0, search_metric=metric,
                       report_metric=report, options=options, space_file=str(space_file), table_file=str(table_file))
    summary = run_experiment(config, tmp_path / "run", progress=False)
    assert summary["n_queries"] == 15
    rows = {line.split(",")[0] for line in table_file.read_text().splitlines()[1:]}
    logged = [json.loads(line)["genotype"] for line in (tmp_path / "run" / "queries.jsonl").read_text().splitlines()]
    assert len(set(logged)) == 15 and set(logged) <= rows  # a cell missing from the table is never queried


def test_user_space_through_the_cli(tmp_path: Path, capsys) -> None:
    space_file, table_file = _write_sequence(tmp_path)
    code = main(["search", "--space-file", str(space_file), "--table", str(table_file), "--search-metric", "acc",
                 "--method", "random", "--budget", "10", "--out", str(tmp_path / "run")])
    assert code == 0
    assert "random seed 0: 10 queries" in capsys.readouterr().out
    assert main(["search", "--space-file", str(space_file), "--table", str(table_file), "--search-metric", "latency",
                 "--method", "random", "--budget", "10", "--out", str(tmp_path / "bad")]) == 2
    assert "lower is better" in capsys.readouterr().err


@pytest.mark.parametrize("yaml_text, csv_text, message", [
    ("kind: tree\n", None, "kind must be one of sequence, cell"),
    ("kind: sequence\nlayers: 0\nchoices: [a]\n", None, "layers must be an integer >= 1"),
    ("kind: sequence\nlayers: 2\nchoices: [a, b]\ncolour: red\n", None, "unknown key"),
    ("kind: cell\nnodes: 3\nops: [a]\nops_on: wire\n", None, "ops_on must be edge or node"),
    ("kind: cell\nnodes: 3\nops: [a]\nedges: [[2, 1]]\n", None, "must run forward"),
    ("kind: sequence\nlayers: [\n", None, "not valid YAML"),
    ("kind: sequence\nlayers: 2\nchoices: [a, b]\n", "genotype,acc\na|b,1\na|c,2\n", "row 3: genotype 'a|c' does not parse"),
    ("kind: sequence\nlayers: 2\nchoices: [a, b]\n", "genotype,acc\na|b,1\nb|b,2\na|b,3\n", "row 4: architecture 'a|b' repeats row 2"),
    ("kind: sequence\nlayers: 2\nchoices: [a, b]\n", "genotype,acc\na|b,1\nb|b,fast\n", "row 3: acc 'fast' is not a finite number"),
    ("kind: sequence\nlayers: 2\nchoices: [a, b]\n", "arch,acc\na|b,1\n", "one of them 'genotype'"),
    ("kind: sequence\nlayers: 2\nchoices: [a, b]\n", "genotype,acc\na|b,1\n", "--search-metric 'top1' is not a column"),
])
def test_bad_space_and_table_files_give_one_line_errors(tmp_path: Path, yaml_text: str, csv_text: str | None,
                                                        message: str) -> None:
    (tmp_path / "s.yaml").write_text(yaml_text)
    (tmp_path / "t.csv").write_text(csv_text or "genotype,acc\n")
    with pytest.raises(DataError, match=message) as info:
        register_user_benchmark(tmp_path / "s.yaml", tmp_path / "t.csv", search_metric="top1" if "top1" in message else "acc")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["nb201", "nb101", "darts", "tnb101-micro", "nbgraph"])
def test_every_codec_round_trips_cells_and_the_generic_decoder_gives_valid_ones(name: str) -> None:
    adapter = get_adapter(name)
    codec, space = adapter.choices(), get_space(name)
    rng = np.random.default_rng(0)
    for _ in range(30):
        genotype = space.sample(rng)
        row = codec.to_choices(genotype)
        assert len(row) == len(codec.choice_sizes) and all(0 <= c < n for c, n in zip(row, codec.choice_sizes))
        assert str(codec.from_choices(row)) == str(genotype)
    torch.manual_seed(0)
    decoder = adapter.build_decoder(latent_dim=4, hidden=16, num_blocks=1, generic=True)
    assert isinstance(decoder, ChoiceDecoder)
    for genotype in decoder.genotypes(5 * torch.randn(40, len(codec.choice_sizes), decoder.width)):
        assert space.parse(str(genotype)) == genotype


def test_rank_bench_runs_on_a_user_table(tmp_path: Path) -> None:
    from crlso.ranking.benchmark import RankBenchConfig, run_rank_benchmark
    from crlso.ranking.model import RankModelConfig

    space_file, table_file = _write_cell(tmp_path)
    spec = register_user_benchmark(space_file, table_file, search_metric="valid", report_metric="test")
    model = ModelConfig(space=spec.space, gnn_hidden=8, gnn_layers=1, latent_dim=4, decoder_hidden=8, decoder_blocks=1,
                        icnn_hidden=8, predictor_hidden=8, predictor_layers=1)
    config = RankBenchConfig(space=spec.space, dataset=spec.dataset, metric="valid", ns=(40,), seeds=(0,), k=20,
                             ranker=RankModelConfig(ensemble=1, epochs=5, forest_trees=20), rf_trees=5,
                             cache_dir=str(tmp_path / "cache"), model=model, pretrain=PretrainConfig(epochs=1))
    result = run_rank_benchmark(config, progress=False)
    (run,) = result["runs"]
    assert result["pool"] == len(table_file.read_text().splitlines()) - 1
    assert "params" not in run and run["cell_forest"]["tau"] > 0.3  # the op counts alone rank this table


def test_search_takes_a_variant_name_and_methods_lists_them(tmp_path: Path, capsys) -> None:
    space_file, table_file = _write_sequence(tmp_path)
    assert main(["search", "--space-file", str(space_file), "--table", str(table_file), "--search-metric", "acc",
                 "--method", "crlso-frozen", "--budget", "12", "--cache-dir", str(tmp_path / "cache"),
                 "--out", str(tmp_path / "run")]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["method"] == "crlso" and config["variant"] == "crlso-frozen" and config["options"]["regularize"] is False
    assert main(["methods"]) == 0
    listed = capsys.readouterr().out
    assert "crlso-frozen" in listed and "variant of crlso" in listed and "rea " in listed


def test_lookup_reads_any_table_and_the_latency_objectives(capsys) -> None:
    assert main(["lookup", "0123|fc|gat|fc|gin", "--space", "nbgraph", "--dataset", "cora"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["valid_perf"] == pytest.approx(0.8193, abs=1e-4) and record["perf"] == pytest.approx(0.8263, abs=1e-4)
    cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
    assert main(["lookup", cell, "--objectives"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["index"] == 6111 and len([k for k in record if k.startswith("latency:")]) == 27


@pytest.mark.slow
@pytest.mark.parametrize("name, generic", [("nb201", False), ("tnb101-micro", False), ("nbgraph", False), ("chain", False),
                                           ("nb101", True), ("darts", False)])
def test_generic_decoder_reconstructs_95_percent_of_held_out_cells(name: str, generic: bool) -> None:
    """The issue's bar, at the default model and pre-training sizes (minutes on one core; DARTS pre-trains with its
    30,000 extra samples, none of them held out)."""
    from crlso.experiments.reconstruction import chain_space, reconstruction_accuracy

    torch.set_num_threads(1)
    space = chain_space().name if name == "chain" else name
    result = reconstruction_accuracy(space, generic_decoder=generic)
    assert result["decoder"] == "ChoiceDecoder" and result["exact"] >= 0.95, result


def test_train_reads_a_new_table_and_search_uses_its_model(tmp_path: Path, capsys) -> None:
    small = ["--hidden", "8", "--latent-dim", "4", "--pretrain-epochs", "1", "--ensemble", "1", "--epochs", "5",
             "--forest-trees", "10", "--joint-epochs", "1", "--predictor-epochs", "5", "--cache-dir", str(tmp_path / "cache")]
    out = tmp_path / "model"
    assert main(["train", "--space", "tnb101-micro", "--dataset", "room_layout", "--labels", "40", "--latent-fit",
                 *small, "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["metric"] == "valid_metric"  # the table's search metric, not NB201's valid_acc
    assert config["label"] == {"name": "valid_metric", "direction": "higher", "scale": "raw", "count": 40,
                               "benchmark": "tnb101-micro", "dataset": "room_layout", "labels": 40}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["reference_cells"] == 4096 and -1.0 <= summary["kendall_tau_unlabelled"] <= 1.0
    assert "direction inferred" not in capsys.readouterr().out  # the table says higher is better
    assert main(["search", "--space", "tnb101-micro", "--dataset", "room_layout", "--method", "crlso", "--model", str(out),
                 "--budget", "12", "--out", str(tmp_path / "run")]) == 0
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["n_queries"] == 12
    assert main(["search", "--space", "tnb101-micro", "--dataset", "jigsaw", "--method", "crlso", "--model", str(out),
                 "--budget", "12", "--out", str(tmp_path / "other")]) == 2  # a model of another task is refused
