"""``crlso report``: one self-contained HTML page (plus its PNGs) for a run folder.

- `crlso.report.build`: `build_report` and `detect_kind` (the folder kinds), the train and rank-bench sections;
- `crlso.report.search`: the sections of a comparison or a search run (curves, best cells, latent space);
- `crlso.report.darts`: the sections of a ``darts-backend`` run;
- `crlso.report.common`: `ReportOptions` and what the sections share;
- `crlso.report.html`: the page's HTML building blocks; `crlso.report.plots`: its figures (matplotlib).

Names are imported from their module on first use.
"""

from __future__ import annotations

from crlso._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "crlso.report.build": ["KINDS", "build_report", "detect_kind"],
    "crlso.report.common": ["ReportOptions"],
})
