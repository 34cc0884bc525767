import ast
import json

import pytest
import torch

from darts_backend.networks import NB201Network, count_flops, count_parameters
from nasspace import get_space

SPACE = get_space("nb201")


def _naslib_cells(data_store, dataset="cifar10"):
    with open(data_store.path("naslib-zc-nb201")) as handle:
        table = json.load(handle)["nasbench201"][dataset]
    return [(SPACE.from_naslib(ast.literal_eval(key)), value) for key, value in table.items()]


def _check(cells, num_classes=10, size=32):
    for genotype, value in cells:
        net = NB201Network(genotype, C=16, N=5, num_classes=num_classes)
        assert count_parameters(net) == pytest.approx(value["params"], abs=1e-6), str(genotype)
        assert count_flops(net, (3, size, size)) == pytest.approx(value["flops"], abs=1e-6), str(genotype)


def test_param_and_flop_counts_match_naslib_sample(data_store):
    cells = _naslib_cells(data_store)
    assert len(cells) == 491
    _check(cells[::25])  # 20 cells; all 491 in the slow test


@pytest.mark.slow
@pytest.mark.parametrize("dataset,classes,size", [("cifar10", 10, 32), ("cifar100", 100, 32), ("ImageNet16-120", 120, 16)])
def test_param_and_flop_counts_match_naslib_all(data_store, dataset, classes, size):
    _check(_naslib_cells(data_store, dataset), classes, size)


def test_discrete_network_forward_and_none_cells():
    for text in ("|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|",
                 "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"):
        net = NB201Network(SPACE.parse(text), C=4, N=1)
        out = net(torch.randn(2, 3, 8, 8))
        assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_macs_convention_and_bad_convention():
    net = NB201Network(SPACE.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"), C=16, N=5)
    assert count_flops(net, convention="macs") < count_flops(net)
    with pytest.raises(ValueError, match="valid: naslib, macs"):
        count_flops(net, convention="thop")
