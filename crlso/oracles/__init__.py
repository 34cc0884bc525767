"""Where a search's values come from, by name: oracles register in `crlso.oracles.registry`.

Built in: ``table`` (the benchmark table's search metric; the default, `crlso.oracles.table`), ``train`` (train
each cell at a proxy budget, `crlso.oracles.training`) and ``supernet`` (a finished supernet's held-out accuracy,
`crlso.oracles.supernet`). A user's oracle is a factory registered with `register_oracle`, or a plain function of
a genotype (`crlso.oracles.function.register_function_oracle`). A run names its oracle by an entry ``{"name": ..., ...settings}``;
`pick_oracle(entry, OracleContext(...))` makes it. The accounting (budget, repeats free, history) stays in
`nasspace.oracle`.

- `crlso.oracles.zero_cost`: zero-cost proxy scores read from the proxy cache (they cost no query: the
  searchers screen and seed with them, the ranking model reads them as features).

With `crlso.search.hybrid`, the training and supernet oracles are the crlso modules that import
`darts_backend` (lazily, inside the functions that train or evaluate). Every name is imported from its module
on first use.
"""

from __future__ import annotations

from crlso._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "crlso.oracles.registry": ["OracleContext", "PickedOracle", "NoSettings", "OracleEntry", "register_oracle",
                               "unregister_oracle", "list_oracles", "oracle_entry",
                               "parse_oracle", "pick_oracle"],
    "crlso.oracles.table": ["load_table", "has_table", "check_budget"],
    "crlso.oracles.function": ["register_function_oracle"],
    "crlso.oracles.training": ["TRAIN_METRIC", "TrainProxy", "proxy_preset", "final_preset", "Evaluation", "TrainingOracle",
                               "train_cells", "evaluation_key"],
    "crlso.oracles.supernet": ["SupernetSpec", "supernet_oracle"],
    "crlso.oracles.zero_cost": ["ProxyTable", "find_proxy_file", "load_proxy_scores", "parse_proxy_list", "proxy_table",
                                "read_proxy_file"],
})
