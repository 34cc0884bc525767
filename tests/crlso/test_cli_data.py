import json

from crlso.cli import main

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


def test_lookup_prints_every_metric(data_store, capsys):
    assert main(["lookup", BEST, "--data-dir", str(data_store.data_dir)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["index"] == 6111 and abs(record["test_acc"] - 94.3733) < 1e-3
    assert {"valid_acc", "train_time", "valid_acc_12ep", "test_acc_12ep", "test_acc_seed"} <= record.keys()


def test_lookup_of_a_malformed_genotype_fails_with_its_message(data_store, capsys):
    code = main(["lookup", "|nor_conv_3x3~0|+|bogus~0|none~1|+|none~0|none~1|none~2|", "--data-dir", str(data_store.data_dir)])
    assert code != 0
    assert "unknown op 'bogus'" in capsys.readouterr().err


def test_data_fetch_and_info(tmp_path, capsys):
    from tests.conftest import mirror_dir

    mirror = mirror_dir()
    if mirror is None:
        import pytest

        pytest.skip("no mirror folder")
    assert main(["data", "fetch", "nb201-test", "--mirror", str(mirror), "--data-dir", str(tmp_path)]) == 0
    assert main(["data", "info", "--data-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("nb201-test") and "present" in line for line in lines)
    assert any(line.startswith("nb201-cifar10-valid") and "missing" in line for line in lines)
    assert main(["data", "fetch", "no-such-file", "--data-dir", str(tmp_path)]) == 2
