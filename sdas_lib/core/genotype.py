"""Genotype: the discrete architecture a search produces, as a frozen, validated value.

A genotype names its op set and, for every cell type, each intermediate node's k inputs as
(op, input node) pairs plus the nodes the cell output concatenates. It prints as a short readable
string, round-trips through JSON and is validated when loaded (never ``eval``ed).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import SdasError, choices
from .opsets import op_set_info

FORMAT = "sdas-genotype"
VERSION = 1

Edge = tuple[str, int]  # (op name, input node index)


@dataclass(frozen=True)
class CellGenotype:
    """One cell: ``nodes[n]`` holds the (op, input) pairs of intermediate node n + n_inputs."""

    nodes: tuple[tuple[Edge, ...], ...]
    concat: tuple[int, ...]

    def __str__(self) -> str:
        n_inputs = self.n_inputs
        parts = [
            f"n{n_inputs + n}=" + "+".join(f"{op}({j})" for op, j in node)
            for n, node in enumerate(self.nodes)
        ]
        return " | ".join(parts) + " | concat " + ",".join(map(str, self.concat))

    @property
    def n_inputs(self) -> int:
        # The first intermediate node may read every input node and nothing else; inputs are 2
        # in every SDAS space, and a genotype stores it implicitly through its first node.
        return 2

    @property
    def edges(self) -> tuple[tuple[str, int, int], ...]:
        """All kept edges as (op, source j, target i)."""
        return tuple((op, j, self.n_inputs + n) for n, node in enumerate(self.nodes) for op, j in node)


@dataclass(frozen=True)
class Genotype:
    """A whole architecture: op set name plus one :class:`CellGenotype` per cell type, in order."""

    op_set: str
    cells: tuple[tuple[str, CellGenotype], ...]

    # -- access --------------------------------------------------------------------------------
    @property
    def cell_types(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.cells)

    def __getitem__(self, cell_type: str) -> CellGenotype:
        for name, cell in self.cells:
            if name == cell_type:
                return cell
        raise SdasError(
            f"genotype has no cell type {cell_type!r}; it has {choices(self.cell_types)}"
        )

    def __str__(self) -> str:
        lines = [f"Genotype(op_set={self.op_set})"]
        width = max(len(n) for n in self.cell_types)
        lines += [f"  {name:<{width}}: {cell}" for name, cell in self.cells]
        return "\n".join(lines)

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_cells(
        cls,
        op_set: str,
        cells: Mapping[str, Iterable[Iterable[Edge]]],
        concat: Mapping[str, Iterable[int]] | None = None,
        k: int | None = 2,
    ) -> "Genotype":
        """Build and validate from plain nested lists, e.g. ``{"normal": [[("sep_conv_3x3", 0), ...], ...]}``.

        Each node's pairs are sorted by input index, so equal architectures compare equal.
        """
        data = {
            "op_set": op_set,
            "cells": {
                name: {
                    "nodes": [[list(e) for e in node] for node in nodes],
                    **({"concat": list(concat[name])} if concat and name in concat else {}),
                }
                for name, nodes in cells.items()
            },
        }
        return cls.from_dict(data, k=k)

    @classmethod
    def from_dict(
        cls, data: Any, cell_types: Iterable[str] | None = None, k: int | None = 2,
        op_set: str | None = None,
    ) -> "Genotype":
        """Validate a JSON-like dict and build a genotype.

        Args:
            data: ``{"op_set": ..., "cells": {name: {"nodes": [[[op, j], ...], ...], "concat": [...]}}}``.
            cell_types: if given, the genotype must have exactly these cell types (a network's).
            k: inputs each node must have (None: any number, the same for every node).
            op_set: if given, the genotype must use this op set.
        """
        if not isinstance(data, Mapping):
            raise SdasError("a genotype must be a JSON object with keys 'op_set' and 'cells'")
        if data.get("format", FORMAT) != FORMAT:
            raise SdasError(f"not an sdas genotype: 'format' is {data.get('format')!r}, expected {FORMAT!r}")
        if int(data.get("version", VERSION)) > VERSION:
            raise SdasError(
                f"genotype format version {data['version']} is newer than this sdas_lib "
                f"(reads up to {VERSION}); upgrade sdas_lib"
            )
        for key in ("op_set", "cells"):
            if key not in data:
                raise SdasError(f"genotype is missing the key {key!r}")
        try:
            ops = op_set_info(str(data["op_set"]))
        except SdasError as err:
            raise SdasError(f"genotype uses an {err}") from None
        if op_set is not None and ops.name != op_set:
            raise SdasError(
                f"genotype uses op set {ops.name!r} but this network needs {op_set!r}; "
                f"search with --op-set {ops.name} or pass a genotype for {op_set!r}"
            )
        raw_cells = data["cells"]
        if not isinstance(raw_cells, Mapping) or not raw_cells:
            raise SdasError("genotype 'cells' must be a non-empty object {cell type: cell}")
        if cell_types is not None:
            wanted = list(cell_types)
            missing = [c for c in wanted if c not in raw_cells]
            extra = [c for c in raw_cells if c not in wanted]
            if missing or extra:
                raise SdasError(
                    f"genotype cell types {choices(raw_cells)} do not match the network's "
                    f"{choices(wanted)}"
                    + (f"; missing cell type {choices(missing)}" if missing else "")
                    + (f"; unexpected {choices(extra)}" if extra else "")
                    + "; pass a genotype searched for this kind of network"
                )
            order = wanted
        else:
            order = list(raw_cells)
        cells = tuple((str(name), _parse_cell(str(name), raw_cells[name], ops, k)) for name in order)
        return cls(ops.name, cells)

    # -- serialization -------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "op_set": self.op_set,
            "cells": {
                name: {"nodes": [[[op, j] for op, j in node] for node in cell.nodes], "concat": list(cell.concat)}
                for name, cell in self.cells
            },
        }

    def to_darts(self) -> str:
        """The genotype in the DARTS reference code's form, to train a cell found here with that code:
        ``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[...])``.

        Only image genotypes fit it (cell types ``normal`` and ``reduce``, op set ``o2d``, whose names
        are DARTS' own, and 2 inputs per node: DARTS reads the flat list two by two).
        """
        if self.op_set != "o2d" or self.cell_types != ("normal", "reduce"):
            raise SdasError(
                f"only image genotypes (op set 'o2d', cells 'normal' and 'reduce') have a DARTS form; this one "
                f"has op set {self.op_set!r} and cells {choices(self.cell_types)}"
            )
        if any(len(node) != 2 for _, cell in self.cells for node in cell.nodes):
            raise SdasError("DARTS' genotype reads two inputs per node; this genotype has nodes with another number")
        parts = []
        for name, cell in self.cells:
            pairs = ", ".join(f"({op!r}, {j})" for node in cell.nodes for op, j in node)
            parts += [f"{name}=[{pairs}]", f"{name}_concat={list(cell.concat)}"]
        return f"Genotype({', '.join(parts)})"

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_json(cls, text: str, **kwargs) -> "Genotype":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise SdasError(f"genotype is not valid JSON ({err}); check the file or re-run the search") from None
        return cls.from_dict(data, **kwargs)

    def save(self, path: str | os.PathLike) -> None:
        """Write JSON atomically (temporary file, then rename)."""
        from ..files import atomic_write_text

        atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike, **kwargs) -> "Genotype":
        path = Path(path)
        if not path.is_file():
            raise SdasError(
                f"genotype file {str(path)!r} does not exist; give a genotype.json from a search "
                f"run folder or a reference name ({choices(REFERENCE_GENOTYPES)})"
            )
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise SdasError(f"cannot read genotype file {str(path)!r} ({err})") from None
        try:
            return cls.from_json(text, **kwargs)
        except SdasError as err:
            raise SdasError(f"genotype file {str(path)!r}: {err}") from None


def _parse_cell(name: str, raw: Any, ops, k: int | None) -> CellGenotype:
    if not isinstance(raw, Mapping) or "nodes" not in raw:
        raise SdasError(f"cell {name!r}: expected an object with a 'nodes' list")
    nodes_raw = raw["nodes"]
    if not isinstance(nodes_raw, list) or not nodes_raw:
        raise SdasError(f"cell {name!r}: 'nodes' must be a non-empty list of nodes")
    n_inputs = 2
    nodes = []
    for n, node_raw in enumerate(nodes_raw):
        node_id = n_inputs + n
        where = f"cell {name!r}, node {node_id}"
        if not isinstance(node_raw, list):
            raise SdasError(f"{where}: expected a list of [op, input] pairs")
        if k is not None and len(node_raw) != k:
            raise SdasError(f"{where} has {len(node_raw)} inputs; each node needs exactly k={k}")
        pairs = []
        for pair in node_raw:
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
                raise SdasError(f"{where}: each input must be an [op, input] pair, got {pair!r}")
            op, j = pair
            if not isinstance(op, str):
                raise SdasError(f"{where}: op name must be a string, got {op!r}")
            if op not in ops:
                raise SdasError(
                    f"unknown op {op!r} in {where} for op set {ops.name!r}; "
                    f"choose one of: {choices(ops.names)}"
                )
            if isinstance(j, bool) or not isinstance(j, int) or not 0 <= j < node_id:
                raise SdasError(
                    f"input {j!r} out of range in {where}: inputs must be node indices 0..{node_id - 1}"
                )
            pairs.append((op, j))
        inputs = [j for _, j in pairs]
        if len(set(inputs)) != len(inputs):
            raise SdasError(f"{where} reads input {max(inputs, key=inputs.count)} twice; its inputs must differ")
        nodes.append(tuple(sorted(pairs, key=lambda p: p[1])))
    all_nodes = list(range(n_inputs, n_inputs + len(nodes)))
    concat = raw.get("concat", all_nodes)
    if (
        not isinstance(concat, list) or not concat
        or any(isinstance(c, bool) or not isinstance(c, int) or c not in all_nodes for c in concat)
    ):
        raise SdasError(f"cell {name!r}: 'concat' must list intermediate nodes from {all_nodes}, got {concat!r}")
    if k is None and len({len(n) for n in nodes}) != 1:
        raise SdasError(f"cell {name!r}: every node must have the same number of inputs")
    return CellGenotype(tuple(nodes), tuple(concat))


def _darts(normal, reduce) -> Genotype:
    pair = lambda flat: [flat[i : i + 2] for i in range(0, len(flat), 2)]  # noqa: E731
    return Genotype.from_cells("o2d", {"normal": pair(normal), "reduce": pair(reduce)})


# Published reference genotypes (DARTS paper; docs/paper_notes.md "Reference facts"). The DARTS op names
# are O2D's names. Nodes are listed in DARTS' order; the value stores each node sorted by input.
DARTS_V1 = _darts(
    normal=[("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1),
            ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2)],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0)],
)
DARTS_V2 = _darts(
    normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
)

REFERENCE_GENOTYPES: dict[str, Genotype] = {"darts_v1": DARTS_V1, "darts_v2": DARTS_V2}


def resolve_genotype(name_or_path: str | os.PathLike, **kwargs) -> Genotype:
    """A reference genotype by name (``darts_v2``) or a genotype JSON file by path."""
    key = str(name_or_path)
    if key.lower() in REFERENCE_GENOTYPES:
        g = REFERENCE_GENOTYPES[key.lower()]
        return Genotype.from_dict(g.to_dict(), **kwargs) if kwargs else g
    return Genotype.load(name_or_path, **kwargs)
