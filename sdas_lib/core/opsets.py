"""Op sets as data: each set's stored name, tensor rank and ops (name and kind), in α's column order.

This table is what a genotype, a search space and a decision history need to know about ops, so
they load and validate without torch. The builders that make the modules live in
:mod:`sdas_lib.ops`; a test checks that this table and the builders' registry agree exactly
(names, order, kinds, rank).

Stored names are settled here, before any video genotype is saved (docs/paper_notes.md "Operation sets"):
the image set is ``o2d``; the video sets are ``video_o2d``, ``video_o3d`` and ``video_oadv``. On the
command line ``--task image|video`` with ``--op-set o2d|o3d|oadv`` picks one
(:func:`stored_op_set_name`). A set appears in :data:`OP_SET_TABLE` once its builders exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SdasError, choices

OP_KINDS = ("identity", "pool", "conv", "channelwise")
TASKS = ("image", "video")
# (task, short name) -> stored name. Short names are what a user types after --op-set.
STORED_NAMES: dict[tuple[str, str], str] = {
    ("image", "o2d"): "o2d",
    ("video", "o2d"): "video_o2d",
    ("video", "o3d"): "video_o3d",
    ("video", "oadv"): "video_oadv",
}


@dataclass(frozen=True)
class OpSetInfo:
    """One op set as data.

    Args:
        name: the stored name (in genotypes and histories), e.g. ``"o2d"``.
        ndim: spatial dimensions of the features: 2 for (N, C, H, W), 3 for (N, C, T, H, W).
        ops: ``(op name, kind)`` pairs in α's column order; kind is one of :data:`OP_KINDS`.
    """

    name: str
    ndim: int
    ops: tuple[tuple[str, str], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.ops)

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self):
        return iter(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def check(self, name: str, where: str = "") -> None:
        if name not in self.names:
            raise SdasError(
                f"unknown op {name!r}{where} for op set {self.name!r}; choose one of: {choices(self.names)}"
            )

    def index(self, name: str) -> int:
        """Column of ``name`` in α."""
        self.check(name)
        return self.names.index(name)

    def kind(self, name: str) -> str:
        return dict(self.ops)[self.names[self.index(name)]]


OP_SET_TABLE: dict[str, OpSetInfo] = {}


def _add(info: OpSetInfo) -> None:
    assert info.name not in OP_SET_TABLE and all(k in OP_KINDS for _, k in info.ops)
    OP_SET_TABLE[info.name] = info


# O2D for images (§4.2, docs/paper_notes.md): 7 ops, no `none` op; β decides the topology.
_add(OpSetInfo("o2d", 2, (
    ("skip_connect", "identity"),   # a factorized reduction in a reduction cell
    ("max_pool_3x3", "pool"),
    ("avg_pool_3x3", "pool"),
    ("sep_conv_3x3", "conv"),
    ("sep_conv_5x5", "conv"),
    ("dil_conv_3x3", "conv"),       # dilation 2
    ("dil_conv_5x5", "conv"),
)))

# Video sets (§4.2, Fig. 6, docs/paper_notes.md): features (N, C, T, H, W), kernels named T×H×W; k_t = 1 is a
# per-frame ("2D") op. Builders: sdas_lib/ops/video.py.
# O2D for video, 7 ops: O2D with 1×k×k kernels.
_add(OpSetInfo("video_o2d", 3, (
    ("skip_connect", "identity"),   # a 3D factorized reduction in a reduction cell
    ("max_pool_1x3x3", "pool"),
    ("avg_pool_1x3x3", "pool"),
    ("sep_conv_1x3x3", "conv"),
    ("sep_conv_1x5x5", "conv"),
    ("dil_conv_1x3x3", "conv"),     # dilation (1, 2, 2)
    ("dil_conv_1x5x5", "conv"),
)))
# O3D, 9 ops: video O2D without avg pool and the 1×5×5 dilated conv, then the 3D ops.
_add(OpSetInfo("video_o3d", 3, (
    ("skip_connect", "identity"),
    ("max_pool_1x3x3", "pool"),
    ("sep_conv_1x3x3", "conv"),
    ("sep_conv_1x5x5", "conv"),
    ("dil_conv_1x3x3", "conv"),
    ("max_pool_3x3x3", "pool"),
    ("sep3d_conv_3x3x3", "conv"),   # separable-3d (Fig. 6a): 1×3×3 ‖ 3×1×1 depthwise, summed
    ("sep3d_conv_3x5x5", "conv"),
    ("dil_sep3d_conv_3x3x3", "conv"),  # dilation 2 in T, H and W; applied once
)))
# Oadv, 9 ops: O3D without its two dilated convs, plus channel-wise scale and bias (Fig. 6b, 6c).
_add(OpSetInfo("video_oadv", 3, (
    ("skip_connect", "identity"),
    ("max_pool_1x3x3", "pool"),
    ("sep_conv_1x3x3", "conv"),
    ("sep_conv_1x5x5", "conv"),
    ("max_pool_3x3x3", "pool"),
    ("sep3d_conv_3x3x3", "conv"),
    ("sep3d_conv_3x5x5", "conv"),
    ("channel_scale", "channelwise"),  # x · sigmoid(SE branch); strided: factorized reduction first
    ("channel_bias", "channelwise"),   # x + SE branch, broadcast over (T, H, W)
)))


def op_set_info(name: str) -> OpSetInfo:
    """The table entry of stored op set ``name``, or an error listing the known ones."""
    if name not in OP_SET_TABLE:
        raise SdasError(f"unknown op set {name!r}; choose one of: {choices(OP_SET_TABLE)}")
    return OP_SET_TABLE[name]


def stored_op_set_name(task: str, op_set: str) -> str:
    """The stored name for ``--task`` and ``--op-set`` (case-insensitive): ('video', 'O3D') -> 'video_o3d'.

    A stored name (``video_o3d``) is accepted as it is under its own task.
    """
    task, short = str(task).lower(), str(op_set).lower()
    if task not in TASKS:
        raise SdasError(f"unknown task {task!r}; choose one of: {choices(TASKS)}")
    name = STORED_NAMES.get((task, short)) or STORED_NAMES.get((task, short.removeprefix(f"{task}_")))
    if name is None:
        offered = [s for t, s in STORED_NAMES if t == task]
        raise SdasError(f"unknown op set {op_set!r} for --task {task}; choose one of: {choices(offered)}")
    if name not in OP_SET_TABLE:
        raise SdasError(
            f"op set {name!r} (--task {task} --op-set {short}) has no ops in this sdas_lib yet; "
            f"available: {choices(OP_SET_TABLE)}"
        )
    return name


__all__ = ["OpSetInfo", "OP_SET_TABLE", "OP_KINDS", "TASKS", "STORED_NAMES", "op_set_info", "stored_op_set_name"]
