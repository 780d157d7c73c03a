"""Candidate ops: the builders behind each op set's names (layer ``ops``; imports ``core`` and torch).

``get_op_set("o2d").build("sep_conv_3x3", C, stride)`` makes a module. Importing this package
registers every op set's builders: ``o2d`` (:mod:`.o2d`, 2D blocks in :mod:`.blocks2d`) and
``video_o2d``, ``video_o3d``, ``video_oadv`` (:mod:`.video`, 3D blocks in :mod:`.blocks3d`).
"""

from . import o2d, video  # noqa: F401  (register O2D and the three video sets)
from .blocks2d import DilConv, FactorizedReduce, ReLUConvBN, SepConv
from .blocks3d import (
    ChannelBias, ChannelScale, DilConv3d, DilSep3dConv, FactorizedReduce3d, ReLUConvBN3d, Sep3dConv, SepConv3d,
)
from .registry import OP_SETS, OpSet, OpSpec, get_op_set, new_op_set

__all__ = [
    "OP_SETS", "OpSet", "OpSpec", "get_op_set", "new_op_set", "ReLUConvBN", "DilConv", "SepConv", "FactorizedReduce",
    "ReLUConvBN3d", "DilConv3d", "SepConv3d", "DilSep3dConv", "Sep3dConv", "FactorizedReduce3d", "ChannelScale",
    "ChannelBias",
]
