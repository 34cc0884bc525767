import numpy as np
import pytest

from nasspace import GenotypeError, get_space
from nasspace.benchmarks.subsets import SubsetTable, load_unlabelled_darts
from nasspace.oracle import Oracle


def test_nb101_subset(data_store):
    table = SubsetTable("nb101", store=data_store)
    # 500 NASLib keys are unpruned matrices of 301 distinct cells.
    assert len(table) == 301 and table.metric("num_keys").sum() == 500
    valid = table.metric("valid_acc")
    assert np.isfinite(valid).all() and 80 < valid.max() < 96
    g = table.genotypes[int(np.argmax(valid))]
    assert table.query(g, "valid_acc") == valid.max()
    assert {"params", "flops", "synflow"} <= set(table.available_metrics())
    assert len({get_space("nb101").canonical_hash(c) for c in table.genotypes}) == 292


def test_nb301_subset_and_oracle(data_store):
    table = SubsetTable("darts", store=data_store)
    assert len(table) == 500
    oracle = Oracle.from_table(table, metric="valid_acc", budget=2)
    assert oracle.query(table.genotypes[0]) == table.query(table.genotypes[0], "valid_acc")
    with pytest.raises(GenotypeError, match="not one of the 500"):
        oracle.query(get_space("darts").sample(0))
    with pytest.raises(ValueError, match="valid spaces"):
        SubsetTable("nb201", store=data_store)


def test_unlabelled_darts_genotypes(data_store):
    genotypes = load_unlabelled_darts(data_store)
    assert len(genotypes) == 11221 == len({str(g) for g in genotypes})
    assert all(g.space_name == "darts" for g in genotypes[:100])
