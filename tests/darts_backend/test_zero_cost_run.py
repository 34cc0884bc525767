"""The zero-cost pass: cache round trip, resume, the CLI, and that no label is ever read."""

import json
import math

import pytest
import torch

import darts_backend.evaluate.zero_cost as zero_cost_module
from darts_backend.cli import main
from darts_backend.evaluate import ProxyCache, ZeroCostConfig, ZeroCostScorer, list_proxies
from darts_backend.runs.zero_cost import read_cells, run_zero_cost
from nasspace import get_space

NB201 = get_space("nb201")
CELLS = [NB201.sample(i) for i in range(4)]
TINY = ZeroCostConfig(space="nb201", data="synthetic", batch_size=4, channels=4, cells=1, synthetic_size=8)


def test_cache_round_trip_with_nan_and_settings_check(tmp_path):
    settings = {"space": "nb201", "proxy": "jacov", "seed": 0}
    cache = ProxyCache.open(tmp_path, settings, flush_seconds=1e9)
    cache.put("a", 1.5)
    cache.put("b", math.nan)
    assert not cache.path.exists()  # not yet flushed
    cache.flush()
    again = ProxyCache.open(tmp_path, settings)
    assert len(again) == 2 and again.get("a") == 1.5 and math.isnan(again.get("b")) and again.get("c") is None
    assert ProxyCache.open(tmp_path, {**settings, "seed": 1}).path != cache.path
    with pytest.raises(ValueError, match="other settings"):
        ProxyCache(cache.path, {**settings, "seed": 1})
    cache.path.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read proxy cache"):
        ProxyCache(cache.path, settings)


def test_two_passes_on_one_cache_file_merge_instead_of_overwriting(tmp_path):
    settings = {"space": "nb201", "proxy": "synflow", "seed": 0}
    first = ProxyCache.open(tmp_path, settings, flush_seconds=1e9)
    second = ProxyCache.open(tmp_path, settings, flush_seconds=1e9)  # opened before `first` wrote anything
    first.put("a", 1.0)
    second.put("b", 2.0)
    first.flush()
    second.flush()  # would drop "a" if it wrote only its own scores
    assert "a" in second and second.get("a") == 1.0  # and it learned the other pass's score
    first.put("c", 3.0)
    first.flush()
    again = ProxyCache.open(tmp_path, settings)
    assert {k: again.get(k) for k in "abc"} == {"a": 1.0, "b": 2.0, "c": 3.0}


def test_pass_resumes_after_an_interruption_without_recomputing(tmp_path, monkeypatch):
    proxies = ["synflow", "snip", "params"]
    real_score = ZeroCostScorer.score
    calls = []

    def failing_score(self, genotype, proxy):
        if len(calls) == 5:  # cell 0 (3 proxies) and cell 1's synflow and snip, then a stop
            raise KeyboardInterrupt
        calls.append((str(genotype), proxy))
        return real_score(self, genotype, proxy)

    monkeypatch.setattr(ZeroCostScorer, "score", failing_score)
    with pytest.raises(KeyboardInterrupt):
        run_zero_cost(TINY, CELLS, proxies, cache_dir=tmp_path, progress=False, flush_seconds=1e9)
    monkeypatch.setattr(ZeroCostScorer, "score", real_score)
    resumed = run_zero_cost(TINY, CELLS, proxies, tmp_path / "out.json", cache_dir=tmp_path, progress=False)
    assert resumed.computed == {"synflow": 2, "snip": 2, "params": 3}  # the 5 scores before the stop were kept
    fresh = run_zero_cost(TINY, CELLS, proxies, cache_dir=tmp_path / "fresh", progress=False)
    assert resumed.scores == fresh.scores
    again = run_zero_cost(TINY, CELLS, proxies, cache_dir=tmp_path, progress=False)
    assert again.computed == {p: 0 for p in proxies} and again.scores == fresh.scores
    written = json.loads((tmp_path / "out.json").read_text())
    assert [c["genotype"] for c in written["cells"]] == [str(g) for g in CELLS]
    assert written["cells"][1]["snip"] == pytest.approx(fresh.scores["snip"][1])


def test_no_proxy_reads_a_label(tmp_path, monkeypatch):
    real = zero_cost_module.load_dataset

    class Unlabelled:
        def __init__(self, data):
            self.images = data.images

        def __len__(self):
            return len(self.images)

        @property
        def labels(self):
            raise AssertionError("a label was read")

    monkeypatch.setattr(zero_cost_module, "load_dataset", lambda *a, **k: Unlabelled(real(*a, **k)))
    result = run_zero_cost(TINY, CELLS[:2], list_proxies(), cache_dir=tmp_path, progress=False)
    assert all(len(v) == 2 for v in result.scores.values())
    # and the batch's labels do not matter: relabelled images give the same scores
    images = zero_cost_module.load_proxy_images(TINY)
    scorer = ZeroCostScorer(TINY, images)
    assert [scorer.score(CELLS[0], p) for p in list_proxies()] == [result.scores[p][0] for p in list_proxies()]


def test_read_cells_accepts_lines_json_and_jsonl(tmp_path):
    lines = tmp_path / "cells.txt"
    lines.write_text("# two cells\n" + "\n".join(str(g) for g in CELLS[:2]) + "\n\n")
    listed = tmp_path / "cells.json"
    listed.write_text(json.dumps([g.to_json() for g in CELLS[:2]]))
    jsonl = tmp_path / "cells.jsonl"
    jsonl.write_text("\n".join(json.dumps(g.to_json()) for g in CELLS[:2]))
    for path in (lines, listed, jsonl):
        assert read_cells(path, "nb201") == CELLS[:2]
    bad = tmp_path / "bad.txt"
    bad.write_text(str(CELLS[0]) + "\n|bogus~0|\n")
    with pytest.raises(ValueError, match="line 2"):
        read_cells(bad, "nb201")


def test_cli_zc_writes_results_and_rejects_bad_options(tmp_path, capsys):
    cells = tmp_path / "cells.txt"
    cells.write_text("\n".join(str(g) for g in CELLS[:2]))
    out = tmp_path / "zc.json"
    common = ["zc", "--space", "nb201", "--data", "synthetic", "--batch-size", "4", "--channels", "4",
              "--network-cells", "1", "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    assert main([*common, "--cells", str(cells), "--proxies", "synflow,params", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["config"]["cells"] == 1 and data["proxies"] == ["synflow", "params"] and len(data["cells"]) == 2
    assert "results in" in capsys.readouterr().out
    assert main([*common, "--cells", str(cells), "--proxies", "synflow,zen", "--out", str(out)]) == 2
    assert "unknown zero-cost proxy 'zen'" in capsys.readouterr().err
    assert main(["zc", "--space", "darts", "--all", "--data", "synthetic", "--proxies", "params", "--out", str(out)]) == 2
    assert "nb201 space only" in capsys.readouterr().err
