"""``darts-backend search --config``: the run's config.json reproduces it; flags win over the file."""

from __future__ import annotations

import json

from darts_backend.cli import main


def test_search_config_json_round_trip(tmp_path, capsys):
    tiny = ["--method", "single-darts", "--data", "synthetic", "--epochs", "1", "--limit-train", "32",
            "--channels", "4", "--cells", "1", "--batch-size", "16", "--no-progress", "--option", "a_lr=0.001"]
    assert main(["search", *tiny, "--out", str(tmp_path / "a")]) == 0
    assert main(["search", "--config", str(tmp_path / "a" / "config.json"), "--out", str(tmp_path / "b"),
                 "--no-progress"]) == 0
    first, second = (json.loads((tmp_path / f / "config.json").read_text()) for f in ("a", "b"))
    assert second == first and first["epochs"] == 1 and first["optim"]["epochs"] == 1
    genotype = lambda f: json.loads((tmp_path / f / "genotype.json").read_text())  # noqa: E731
    assert genotype("b") == genotype("a")
    config = tmp_path / "bad.yaml"
    config.write_text("method: single-darts\ndata: synthetic\nchanels: 4\n")
    assert main(["search", "--config", str(config), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'chanels'; allowed: " in err and "channels" in err
