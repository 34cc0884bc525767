"""Tabular benchmarks: the NB201 table, generic array tables, and the registry of searchable tables.

Importing this package registers the built-in tables (`nasspace.benchmarks.registry` imports none of them).
"""

import nasspace.benchmarks.nb201  # noqa: F401  registers the NB201 tables
import nasspace.benchmarks.nbgraph  # noqa: F401  registers the NAS-Bench-Graph tables
import nasspace.benchmarks.tnb101  # noqa: F401  registers the TransNAS-Bench-101 micro tables
