"""Candidate ops: the builders behind each op set's names (layer ``ops``; imports ``core`` and torch).

``get_op_set("o2d").build("sep_conv_3x3", C, stride)`` makes a module. Importing this package
registers every op set's builders.
"""

from . import o2d  # noqa: F401  (registers O2D)
from .blocks2d import DilConv, FactorizedReduce, ReLUConvBN, SepConv
from .registry import OP_SETS, OpSet, OpSpec, get_op_set, new_op_set

__all__ = [
    "OP_SETS", "OpSet", "OpSpec", "get_op_set", "new_op_set", "ReLUConvBN", "DilConv", "SepConv", "FactorizedReduce",
]
