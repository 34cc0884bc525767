"""Runs: the loops that produce a run folder, and the files they write.

- `trainer`: the one search loop (`SearchTrainer`): epochs of searcher steps, metrics, alpha history,
  a checkpoint every epoch, resume; device selection (`select_device`, cuDNN autotuning on CUDA),
  optional ``torch.compile`` (`compile_network`) and run-folder checks.
- `search`: a single-genotype search run (``single-darts``, ``darts``, ``pc-darts``, ``ms-darts``, ``spos`` on
  ``nb201`` or ``darts``).
- `path_selection`: the end of an ``spos`` run: the best of sampled cells by the single-path evaluator.
- `set_search`: a set-emitting search run (``dnad``, ``fx-darts`` on ``darts``), optional teacher.
- `train`: training one discrete network from a genotype file (the evaluation step).
- `pareto`: the Pareto front of a set (held-out accuracy against params or FLOPs) and its plot.
- `retrain`: retraining every member of a set and attaching its held-out accuracy (``darts-backend retrain-set``).
- `results`: reading a finished search run folder (`load_outcome`).
- `files`: atomic JSON, JSONL and checkpoint files.
- `bench`: throughput of full search steps.
- `zero_cost`: a zero-cost proxy pass over many cells, through the per-cell cache (``darts-backend zc``).
- `evaluator_bench`: Kendall tau and Spearman of evaluators against the NB201 table (``darts-backend evaluator-bench``).

Nothing is imported here: import the module you need (``from darts_backend.runs.search import run_search``).
"""
