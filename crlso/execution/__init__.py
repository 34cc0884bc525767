"""Where runs and evaluations execute: a local process pool or Ray (`crlso.execution.executors`).

It sits below the oracles and the experiments, which both hand it work; it imports neither.
"""

from __future__ import annotations

from crlso._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "crlso.execution.executors": ["Executor", "LocalExecutor", "RayExecutor", "TaskFailed", "TaskResources",
                                  "create_executor", "list_executors"],
})
