import pytest
import torch

from darts_backend.ops import create_op, list_ops
from nasspace.nb201 import NB201_OPS


def test_registry_holds_nb201_ops_and_rejects_unknown():
    assert set(NB201_OPS) <= set(list_ops())
    with pytest.raises(ValueError, match="valid ops: .*nor_conv_3x3"):
        create_op("conv_7x7", 4, 4)


@pytest.mark.parametrize("name", NB201_OPS)
@pytest.mark.parametrize("stride,c_in,c_out", [(1, 4, 4), (2, 4, 8), (1, 4, 6)])
def test_op_shapes(name, stride, c_in, c_out):
    op = create_op(name, c_in, c_out, stride, affine=False)
    out = op(torch.randn(2, c_in, 8, 8))
    assert out.shape == (2, c_out, 8 // stride, 8 // stride)
    assert torch.isfinite(out).all()


def test_bad_stride():
    with pytest.raises(ValueError, match="stride"):
        create_op("nor_conv_3x3", 4, 4, stride=3)
