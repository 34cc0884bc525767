"""Candidate operations: one registry from a `nasspace` op name to a module factory.

`registry` holds the map (`register_op`, `create_op`, `list_ops`); `nb201` and `darts` register each
space's ops. Importing this package registers every op: ``create_op("sep_conv_3x3", 16, 16, 1)``.
"""

from darts_backend.ops.darts import DARTS_OP_NAMES, PARAMETER_FREE_OPS, DilConv, MaxPool, SepConv
from darts_backend.ops.nb201 import FactorizedReduce, Pooling, ReLUConvBN, ResNetBasicBlock, Zero
from darts_backend.ops.registry import OpFactory, create_op, list_ops, register_op, reset_weights_

__all__ = [
    "OpFactory",
    "register_op",
    "create_op",
    "list_ops",
    "reset_weights_",
    "Zero",
    "ReLUConvBN",
    "FactorizedReduce",
    "Pooling",
    "ResNetBasicBlock",
    "DARTS_OP_NAMES",
    "PARAMETER_FREE_OPS",
    "SepConv",
    "DilConv",
    "MaxPool",
]
