import copy

import pytest
import torch
import torch.nn.functional as F

import nasspace
from darts_backend.searchers import SearcherConfig, create_searcher, list_searchers
from nasspace import get_space

CONFIG = SearcherConfig(epochs=2, grad_clip=0.0)  # unclipped, so gradients can be compared


def _grads(network, batch, params):
    loss = F.cross_entropy(network(batch[0]), batch[1])
    return torch.autograd.grad(loss, params)


def _snapshot(network):
    return [p.detach().clone() for p in network.weight_parameters()], network.alphas.detach().clone()


def _changed(before, after):
    return any(not torch.equal(a, b) for a, b in zip(before, after))


def test_registry():
    assert {"darts", "single-darts"} <= set(list_searchers())
    with pytest.raises(ValueError, match="valid methods: .*single-darts"):
        create_searcher("enas", None)  # type: ignore[arg-type]


def test_single_darts_updates_both_from_one_batch(tiny_network, batches):
    train, valid, _ = batches
    reference = copy.deepcopy(tiny_network)
    expected_alpha_grad = _grads(reference, train, [reference.alphas])[0]
    expected_w_grad = _grads(reference, train, reference.weight_parameters())
    searcher = create_searcher("single-darts", tiny_network, CONFIG)
    weights0, alphas0 = _snapshot(tiny_network)
    metrics = searcher.step(train, valid)  # the valid batch is ignored
    weights1, alphas1 = _snapshot(tiny_network)
    assert set(metrics) == {"loss", "acc"} and all(isinstance(v, float) for v in metrics.values())
    assert _changed(weights0, weights1) and not torch.equal(alphas0, alphas1)
    # both gradients are those of the one training batch at the starting point
    torch.testing.assert_close(tiny_network.alphas.grad, expected_alpha_grad)
    first_conv = tiny_network.weight_parameters()[0]
    assert first_conv.grad is not None and torch.isfinite(first_conv.grad).all()
    torch.testing.assert_close(tiny_network.stem[0].weight.grad, expected_w_grad[0], atol=1e-6, rtol=1e-4)


def test_single_darts_ignores_valid_batch(tiny_network, batches):
    train, valid, other = batches
    a, b = copy.deepcopy(tiny_network), copy.deepcopy(tiny_network)
    create_searcher("single-darts", a, CONFIG).step(train, valid)
    create_searcher("single-darts", b, CONFIG).step(train, other)
    torch.testing.assert_close(a.alphas, b.alphas, rtol=0, atol=0)


def test_darts_alphas_come_only_from_the_valid_batch(tiny_network, batches):
    train, valid, other = batches
    reference = copy.deepcopy(tiny_network)
    expected_alpha_grad = _grads(reference, valid, [reference.alphas])[0]
    a, b = copy.deepcopy(tiny_network), copy.deepcopy(tiny_network)
    sa, sb = create_searcher("darts", a, CONFIG), create_searcher("darts", b, CONFIG)
    w0, alphas0 = _snapshot(a)
    metrics = sa.step(train, valid)
    sb.step(other, valid)  # same valid batch, different train batch
    w1, alphas1 = _snapshot(a)
    assert {"loss", "acc", "valid_loss", "valid_acc"} == set(metrics)
    assert _changed(w0, w1) and not torch.equal(alphas0, alphas1)
    torch.testing.assert_close(a.alphas.grad, expected_alpha_grad)
    torch.testing.assert_close(a.alphas, b.alphas, rtol=0, atol=0)  # train batch never touches alphas
    assert _changed(_snapshot(a)[0], _snapshot(b)[0])  # but it drives the weights


def test_darts_weight_step_uses_train_batch_after_alpha_step(tiny_network, batches):
    train, valid, _ = batches
    searcher = create_searcher("darts", tiny_network, CONFIG)
    searcher.step(train, valid)
    # reconstruct: the weight gradient is the train-loss gradient at the old weights and the new alphas
    reference = copy.deepcopy(tiny_network)
    for p, q in zip(reference.weight_parameters(), _original_weights(tiny_network, searcher)):
        p.data.copy_(q)
    expected = _grads(reference, train, reference.weight_parameters())
    torch.testing.assert_close(tiny_network.stem[0].weight.grad, expected[0], atol=1e-6, rtol=1e-4)


def _original_weights(network, searcher):
    """Undo the SGD step of the first iteration (no momentum buffer yet: w_old = w_new + lr * (g + wd * w_old))."""
    cfg = searcher.config
    out = []
    for p in network.weight_parameters():
        # first nesterov step: update = g' + m * g' with g' = g + wd * w_old  ->  solve for w_old
        g = p.grad
        k = cfg.w_lr * (1 + cfg.w_momentum)
        out.append((p.detach() + k * g) / (1 - k * cfg.w_weight_decay))
    return out


def test_darts_needs_valid_batch(tiny_network, batches):
    with pytest.raises(ValueError, match="validation batch"):
        create_searcher("darts", tiny_network, CONFIG).step(batches[0], None)


@pytest.mark.parametrize("method", ["darts", "single-darts"])
def test_state_dict_round_trip_and_genotype_export(method, tiny_network, batches, tmp_path):
    train, valid, _ = batches
    searcher = create_searcher(method, tiny_network, CONFIG)
    searcher.step(train, valid)
    searcher.end_epoch()
    path = tmp_path / "state.pt"
    torch.save(searcher.state_dict(), path)
    clone_net = copy.deepcopy(tiny_network)
    with torch.no_grad():
        for p in clone_net.parameters():
            p.zero_()
    clone = create_searcher(method, clone_net, CONFIG)
    clone.load_state_dict(torch.load(path, weights_only=True))
    assert clone.epoch == 1 and clone.scheduler.get_last_lr() == searcher.scheduler.get_last_lr()
    searcher.step(train, valid)
    clone.step(train, valid)
    torch.testing.assert_close(clone_net.alphas, tiny_network.alphas, rtol=0, atol=0)

    genotype = searcher.genotype()
    assert genotype.space_name == "nb201"
    data = genotype.to_json()
    assert nasspace.genotype_from_json(data) == genotype
    assert get_space("nb201").parse(str(genotype)) == genotype


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("method", ["darts", "single-darts"])
def test_step_on_each_device(method, device, tiny_network, batches):
    network = tiny_network.to(device)
    train, valid, _ = ((x.to(device), y.to(device)) for x, y in batches)
    metrics = create_searcher(method, network, SearcherConfig(epochs=1)).step(train, valid)
    assert all(v == v for v in metrics.values())  # finite, not NaN
    assert network.genotype().space_name == "nb201"


@pytest.mark.parametrize("method", ["single-darts", "darts"])
def test_a_search_step_issues_no_host_sync(tiny_network, batches, sync_counter, method):
    searcher = create_searcher(method, tiny_network, SearcherConfig(epochs=2))  # clipped, as by default
    train, valid, _ = batches
    searcher.train_step(train, valid)  # optimizer state exists from here on
    with sync_counter:
        metrics = searcher.train_step(train, valid)
    assert sync_counter.calls == []
    assert all(v.dim() == 0 for v in metrics.values())
    with sync_counter:  # the counter does catch a sync
        float(metrics["loss"])
    assert len(sync_counter.calls) == 1
