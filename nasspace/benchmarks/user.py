"""A user's own space and benchmark from two files: ``SPACE.yaml`` and ``TABLE.csv``.

``SPACE.yaml`` is one of::

    kind: sequence                  # a chain of layers
    layers: 6
    choices: [id, mb3k3, mb6k5]     # the same for every layer, or one list per layer
    minimize: [latency]             # optional: table columns where lower is better

    kind: cell                      # a DAG: node 0 the input, node nodes-1 the output
    nodes: 4
    ops: [none, skip, conv1x1, conv3x3]
    ops_on: edge                    # edge: one op per listed edge; node: one op per inner node
    edges: [[0, 1], [0, 2], [1, 2], [0, 3], [1, 3], [2, 3]]   # default: every forward pair
    optional_edges: false           # node only: each edge also a 0/1 choice

An optional ``name`` names the space (default: the YAML file's stem). ``TABLE.csv`` has one row per
architecture: a ``genotype`` column in the space's string form (the choices' names joined by ``|``: a
sequence's layers in order; an edge cell's ops in the order of ``edges``; a node cell's inner-node ops, then,
with optional edges, a ``0``/``1`` per edge), then numeric metric columns. The space is restricted to the
table's rows: a cell missing from the table is never sampled, proposed or queried.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nasspace.benchmarks.registry import TableSpec, register_table
from nasspace.benchmarks.table import ArrayTable
from nasspace.choice import EDGE_CELL, NODE_CELL, SEQUENCE, ChoiceSpace, Position
from nasspace.errors import DataError, GenotypeError
from nasspace.space import get_space, list_spaces, register_space_instance

__all__ = ["USER_KINDS", "read_space_file", "read_table_csv", "register_user_benchmark"]

USER_KINDS = ("sequence", "cell")
_KEYS = {"sequence": {"kind", "name", "layers", "choices", "minimize"},
         "cell": {"kind", "name", "nodes", "ops", "ops_on", "edges", "optional_edges", "minimize"}}


def _load_yaml(path: Path) -> Mapping[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise DataError(f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: a space file is a mapping with 'kind: sequence' or 'kind: cell'")
    return data


def _names(value: Any, what: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        raise DataError(f"{path}: {what} must be a non-empty list of names, got {value!r}")
    return tuple(str(v) for v in value)


def _int(data: Mapping[str, Any], key: str, low: int, path: Path) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise DataError(f"{path}: {key} must be an integer >= {low}, got {value!r}")
    return value


def read_space_file(path: str | Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The `ChoiceSpace` arguments described by ``SPACE.yaml`` (see the module doc), and its ``minimize`` list.

    Raises:
        DataError: a missing or unknown key or a bad value, in one line naming it and what is allowed.
    """
    path = Path(path)
    data = _load_yaml(path)
    kind = data.get("kind")
    if kind not in USER_KINDS:
        raise DataError(f"{path}: kind must be one of {', '.join(USER_KINDS)}, got {kind!r}")
    unknown = sorted(set(data) - _KEYS[kind])
    if unknown:
        raise DataError(f"{path}: unknown key(s) {', '.join(unknown)} for kind {kind}; allowed: {', '.join(sorted(_KEYS[kind]))}")
    name = str(data.get("name") or path.stem)
    minimize = _names(data["minimize"], "minimize", path) if "minimize" in data else ()
    try:
        arguments = _space_arguments(data, kind, name, path)
        ChoiceSpace(**arguments)  # checks the layout
        return arguments, minimize
    except GenotypeError as exc:
        raise DataError(f"{path}: {exc}") from None


def _space_arguments(data: Mapping[str, Any], kind: str, name: str, path: Path) -> dict[str, Any]:
    if kind == "sequence":
        layers = _int(data, "layers", 1, path)
        choices = data.get("choices")
        if isinstance(choices, list) and choices and all(isinstance(c, list) for c in choices):
            if len(choices) != layers:
                raise DataError(f"{path}: choices has {len(choices)} per-layer lists for {layers} layers")
            per_layer = [_names(c, f"choices of layer {i + 1}", path) for i, c in enumerate(choices)]
        else:
            per_layer = [_names(choices, "choices", path)] * layers
        return {"name": name, "layout": SEQUENCE,
                "positions": [Position(f"layer{i + 1}", options) for i, options in enumerate(per_layer)]}
    nodes = _int(data, "nodes", 2, path)
    ops = _names(data.get("ops"), "ops", path)
    ops_on = data.get("ops_on", "edge")
    if ops_on not in ("edge", "node"):
        raise DataError(f"{path}: ops_on must be edge or node, got {ops_on!r}")
    raw_edges = data.get("edges", [list(e) for e in itertools.combinations(range(nodes), 2)])
    if not isinstance(raw_edges, list) or not all(isinstance(e, list) and len(e) == 2 and all(isinstance(x, int) for x in e)
                                                  for e in raw_edges):
        raise DataError(f"{path}: edges must be a list of [src, dst] integer pairs, got {raw_edges!r}")
    edges = [tuple(e) for e in raw_edges]
    optional = data.get("optional_edges", False)
    if not isinstance(optional, bool) or (optional and ops_on == "edge"):
        raise DataError(f"{path}: optional_edges is true or false, and only for ops_on: node")
    if ops_on == "edge":
        positions = [Position(f"{s}>{d}", ops) for s, d in edges]
        return {"name": name, "layout": EDGE_CELL, "nodes": nodes, "edges": edges, "positions": positions}
    positions = [Position(f"node{i}", ops) for i in range(1, nodes - 1)]
    positions += [Position(f"{s}>{d}", ("0", "1")) for s, d in edges] if optional else []
    return {"name": name, "layout": NODE_CELL, "nodes": nodes, "edges": edges, "optional_edges": optional,
            "positions": positions}


def read_table_csv(space: ChoiceSpace, path: str | Path) -> tuple[list[Any], dict[str, list[float]]]:
    """The genotypes and metric columns of ``TABLE.csv`` (one row per architecture).

    Raises:
        DataError: no ``genotype`` column or no metric column, a row that does not parse, a duplicate
            architecture, or a non-numeric (or non-finite) metric; one line naming the row (1-based, header
            is row 1) and column.
    """
    path = Path(path)
    try:
        with open(path, newline="") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the table ({getattr(exc, 'strerror', None) or exc})") from None
    if not rows or "genotype" not in rows[0]:
        raise DataError(f"{path}: the first row must name the columns, one of them 'genotype'")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise DataError(f"{path}: column names repeat in the header: {header}")
    g_col = header.index("genotype")
    metrics = [h for h in header if h != "genotype"]
    if not metrics:
        raise DataError(f"{path}: no metric column beside 'genotype'")
    genotypes, values, first_row = [], {m: [] for m in metrics}, {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DataError(f"{path} row {line}: {len(row)} fields, the header has {len(header)}")
        try:
            genotype = space.parse(row[g_col])
        except GenotypeError as exc:
            raise DataError(f"{path} row {line}: genotype {row[g_col]!r} does not parse: {exc}") from None
        if str(genotype) in first_row:
            raise DataError(f"{path} row {line}: architecture {str(genotype)!r} repeats row {first_row[str(genotype)]}")
        first_row[str(genotype)] = line
        genotypes.append(genotype)
        for column, cell in zip(header, row):
            if column == "genotype":
                continue
            try:
                number = float(cell)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise DataError(f"{path} row {line}: {column} {cell!r} is not a finite number")
            values[column].append(number)
    if not genotypes:
        raise DataError(f"{path}: the table has no rows")
    return genotypes, values


def register_user_benchmark(space_file: str | Path, table_file: str | Path, *, search_metric: str | None,
                            report_metric: str | None = None) -> TableSpec:
    """Register the space of ``space_file``, restricted to the rows of ``table_file``, and its table (dataset: the
    CSV's stem). Registering the same two files again is a no-op.

    Raises:
        DataError: a bad file (see `read_space_file`, `read_table_csv`), a missing or unknown metric column, or a
            space name that a built-in space holds.
    """
    arguments, minimize = read_space_file(space_file)
    name = arguments["name"]
    if name in list_spaces() and not isinstance(get_space(name), ChoiceSpace):
        raise DataError(f"{space_file}: the space name {name!r} is a built-in space; give another with name:")
    genotypes, values = read_table_csv(ChoiceSpace(**arguments), table_file)
    columns = list(values)
    if search_metric is None:
        raise DataError(f"{table_file}: give --search-metric, one of the table's columns: {', '.join(columns)}")
    for flag, column in (("--search-metric", search_metric), ("--report-metric", report_metric), *(("minimize", m) for m in minimize)):
        if column is not None and column not in values:
            raise DataError(f"{flag} {column!r} is not a column of {table_file}; columns: {', '.join(columns)}")
    space = register_space_instance(ChoiceSpace(**arguments, admissible=[g.choices for g in genotypes]), replace=True)
    rows = [space.from_choices(g.choices, repair=False) for g in genotypes]
    table = ArrayTable(space, Path(table_file).stem, rows, values, minimize=minimize)
    notes = {m: ("lower is better" if m in minimize else "higher is better") + f" (column of {Path(table_file).name})"
             for m in columns}
    return register_table(TableSpec(
        space=name, dataset=table.dataset, load=lambda data_dir: table, search_metric=search_metric,
        report_metric=report_metric or search_metric, num_cells=len(table),
        objectives=tuple(m for m in columns if m not in (search_metric, report_metric)), minimize=tuple(minimize),
        metrics=notes, sources=(str(Path(table_file).resolve()),)), replace=True)
