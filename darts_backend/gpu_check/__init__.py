"""``darts-backend gpu-check``: one prepared command that checks and measures what a GPU changes.

- `plan`: the sections, their sizes (paper size, or toy sizes with ``--quick``) and their time boxes;
- `sections`: the measurements, each run in a child process of its own (``python -m
  darts_backend.gpu_check.sections``) that appends result rows to a JSONL file as it goes;
- `harness`: runs the children under their time boxes, keeps what a killed child wrote, and writes
  ``gpu_check.json`` and ``gpu_check.md``.

Nothing is imported here: ``from darts_backend.gpu_check.harness import run_gpu_check``.
"""

__all__: list[str] = []
