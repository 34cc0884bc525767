import pytest

from nasspace import BudgetExhausted, get_space
from nasspace.oracle import Oracle

SPACE = get_space("nb201")


def test_repeats_are_free_and_budget_is_enforced(nb201_cifar10):
    oracle = Oracle.from_table(nb201_cifar10, metric="valid_acc", budget=3)
    cells = nb201_cifar10.genotypes[:5]
    values = [oracle.query(cells[0]), oracle.query(cells[0]), oracle.query(cells[1]), oracle.query(cells[2])]
    assert values[0] == values[1] == pytest.approx(nb201_cifar10.query(cells[0], "valid_acc"))
    assert oracle.n_queries == 3 and oracle.remaining == 0 and oracle.exhausted
    assert oracle.query(cells[1]) == values[2]  # known cells stay free after the budget is spent
    with pytest.raises(BudgetExhausted, match="3 of 3"):
        oracle.query(cells[3])
    assert [q.step for q in oracle.history] == [1, 2, 3]
    assert [str(q.genotype) for q in oracle.history] == [str(c) for c in cells[:3]]


def test_cost_is_simulated_training_time(nb201_cifar10):
    cells = nb201_cifar10.genotypes[:2]
    times = [nb201_cifar10.query(c, "train_time") for c in cells]
    oracle = Oracle.from_table(nb201_cifar10, cost_budget=times[0] + 1.0)
    oracle.query(cells[0])
    assert oracle.total_cost == pytest.approx(times[0]) and not oracle.exhausted
    oracle.query(cells[1])
    assert oracle.total_cost == pytest.approx(sum(times)) and oracle.exhausted
    assert oracle.history[-1].cost == pytest.approx(times[1])


def test_oracle_answers_only_the_search_metric(nb201_cifar10):
    oracle = Oracle.from_table(nb201_cifar10, metric="valid_acc")
    assert not hasattr(oracle, "table")
    assert all(not hasattr(v, "metric") for v in vars(oracle).values())
    best = nb201_cifar10.genotypes[6111]
    assert oracle(best) == pytest.approx(91.6067, abs=1e-4)
    assert oracle.best().genotype == best


def test_replay_restores_history_without_calls():
    calls = []
    oracle = Oracle(lambda g: calls.append(g) or 1.0, budget=2)
    a, b = SPACE.sample(0), SPACE.sample(1)
    oracle.replay([(a, 70.0, 5.0)])
    assert oracle.query(a) == 70.0 and calls == [] and oracle.total_cost == 5.0
    oracle.query(b)
    assert calls == [b] and oracle.exhausted
    with pytest.raises(ValueError, match="budget"):
        Oracle(lambda g: 0.0, budget=-1)
