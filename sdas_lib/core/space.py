"""The search space: cell types, the DAG of a cell, and its edge indexing.

A cell (paper §3.1, docs/paper_notes.md "Search space") has ``n_inputs`` = 2 input nodes (the outputs of the two
previous cells) and ``n_nodes`` = 4 intermediate nodes numbered 2..5. Every intermediate node i
has an incoming edge (j, i) from each j < i, so a cell has 2+3+4+5 = 14 edges. Each node keeps
``k`` = 2 predecessors in the final architecture. The output concatenates the intermediate nodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ..errors import SdasError, choices
from .layout import is_reduction
from .opsets import op_set_info


@dataclass(frozen=True)
class CellType:
    """A kind of cell with its own α/β: its name and the stride of the edges that read its inputs.

    ``stride`` is 1 for a normal cell, 2 for an image reduction cell; video cell types use
    (T, H, W) strides such as (2, 2, 2) for ST-reduction and (1, 2, 2) for S-reduction.
    """

    name: str
    stride: int | tuple[int, ...] = 1

    @property
    def reduction(self) -> bool:
        return is_reduction(self.stride)


NORMAL = CellType("normal", 1)
REDUCE = CellType("reduce", 2)
# Video (§4.1): the reduction cell splits in two. A video normal cell is NORMAL itself: stride 1
# means "no stride" in every dimension, and the video op builders read it as (1, 1, 1).
ST_REDUCE = CellType("st_reduce", (2, 2, 2))  # halves T, H and W
S_REDUCE = CellType("s_reduce", (1, 2, 2))  # halves H and W, keeps every frame
VIDEO_CELL_TYPES = (NORMAL, ST_REDUCE, S_REDUCE)


@dataclass(frozen=True)
class SearchSpace:
    """Op set + cell types + cell shape. α has shape (n_edges, len(op_set)) per cell type.

    Args:
        op_set: name of a registered op set (``"o2d"``).
        cell_types: the cell types in a fixed order (α/β of each are searched together).
        n_nodes: intermediate nodes per cell.
        k: predecessors each intermediate node keeps.
        n_inputs: input nodes per cell.
    """

    op_set: str = "o2d"
    cell_types: tuple[CellType, ...] = (NORMAL, REDUCE)
    n_nodes: int = 4
    k: int = 2
    n_inputs: int = 2

    def __post_init__(self):
        info = op_set_info(self.op_set)  # raises a clear error for an unknown name
        if info.ndim == 3 and not any(isinstance(c.stride, tuple) for c in self.cell_types):
            raise SdasError(
                f"op set {self.op_set!r} holds 3D (video) ops, but the cell types "
                f"({', '.join(c.name for c in self.cell_types)}) are the image layout, with no cell that reduces "
                f"time: the video space has normal, st_reduce and s_reduce cells (video_space({self.op_set!r}); "
                f"on the command line --task video)"
            )
        if not self.cell_types:
            raise SdasError("a search space needs at least one cell type")
        names = [c.name for c in self.cell_types]
        if len(set(names)) != len(names):
            raise SdasError(f"cell type names must be unique, got {names}")
        if self.n_inputs < 1 or self.n_nodes < 1:
            raise SdasError(
                f"a cell needs at least one input and one intermediate node "
                f"(got n_inputs={self.n_inputs}, n_nodes={self.n_nodes})"
            )
        if not 1 <= self.k <= self.n_inputs:
            raise SdasError(
                f"k={self.k} predecessors per node is impossible: the first intermediate node "
                f"has only {self.n_inputs} predecessors; choose 1 <= k <= {self.n_inputs}"
            )

    @cached_property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """All edges (j, i), grouped by target node i and ordered by source j: α's row order."""
        return tuple((j, i) for i in self.node_ids for j in range(i))

    @cached_property
    def node_ids(self) -> tuple[int, ...]:
        return tuple(range(self.n_inputs, self.n_inputs + self.n_nodes))

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    @cached_property
    def n_ops(self) -> int:
        return len(op_set_info(self.op_set))

    def incoming(self, node: int) -> tuple[int, ...]:
        """Edge indices (rows of α) of the edges into intermediate ``node``, ordered by source."""
        return tuple(e for e, (_, i) in enumerate(self.edges) if i == node)

    @property
    def cell_type_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cell_types)

    def cell_type(self, name: str) -> CellType:
        for c in self.cell_types:
            if c.name == name:
                return c
        raise SdasError(f"unknown cell type {name!r}; this space has {choices(self.cell_type_names)}")

    @property
    def decisions_per_cell(self) -> int:
        """E + N one-step discretizations for one cell type."""
        return self.n_edges + self.n_nodes

    @property
    def total_decisions(self) -> int:
        """M = Σ over cell types of (E + N): 36 for the image space (§3.2), 54 for the video one."""
        return len(self.cell_types) * self.decisions_per_cell

    # -- as data ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The space as JSON-ready data (strides as ints or lists); :meth:`from_dict` inverts it."""
        return {
            "op_set": self.op_set,
            "cell_types": [
                {"name": c.name, "stride": list(c.stride) if isinstance(c.stride, tuple) else c.stride}
                for c in self.cell_types
            ],
            "n_nodes": self.n_nodes, "k": self.k, "n_inputs": self.n_inputs,
        }

    @classmethod
    def from_dict(cls, data) -> "SearchSpace":
        """Validate and build a space from :meth:`to_dict`'s data."""
        try:
            cell_types = tuple(
                CellType(str(c["name"]), tuple(int(v) for v in c["stride"]) if isinstance(c["stride"], list) else int(c["stride"]))
                for c in data["cell_types"]
            )
            return cls(str(data["op_set"]), cell_types, int(data["n_nodes"]), int(data["k"]), int(data.get("n_inputs", 2)))
        except (KeyError, TypeError, ValueError) as err:
            raise SdasError(f"malformed search space {data!r}: {type(err).__name__} {err}") from None

    def __repr__(self) -> str:
        cts = ", ".join(f"{c.name}(stride={c.stride})" for c in self.cell_types)
        return (
            f"SearchSpace(op_set={self.op_set!r}, cell_types=[{cts}], n_nodes={self.n_nodes}, "
            f"k={self.k}, edges={self.n_edges}, M={self.total_decisions})"
        )


IMAGE_SPACE = SearchSpace()


def video_space(op_set: str, n_nodes: int = 4, k: int = 2) -> SearchSpace:
    """The video search space: normal, ST-reduction and S-reduction cells (α/β for each), M = 54.

    Args:
        op_set: a stored video op set (``"video_o2d"``, ``"video_o3d"``, ``"video_oadv"``).
        n_nodes, k: as :class:`SearchSpace`.
    """
    info = op_set_info(op_set)
    if info.ndim != 3:
        raise SdasError(
            f"op set {op_set!r} has {info.ndim}D ops; the video space needs a video op set such as 'video_o3d'"
        )
    return SearchSpace(op_set, VIDEO_CELL_TYPES, n_nodes, k)
