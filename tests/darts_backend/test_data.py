import io
import pickle
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from darts_backend.data import (
    BatchLoader,
    augment_batch,
    load_cifar10,
    load_dataset,
    load_image_folder,
    synthetic_images,
)


def _cifar_batch(n, seed):
    rng = np.random.default_rng(seed)
    return {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"labels": [int(v) for v in rng.integers(0, 10, n)], b"batch_label": b"x"}


def _write_cifar(tmp_path, n=4):
    batches = {f"data_batch_{i}": _cifar_batch(n, i) for i in range(1, 6)}
    batches["test_batch"] = _cifar_batch(n, 9)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, content in batches.items():
            raw = pickle.dumps(content, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    return archive, batches


def test_cifar_archive_and_folder(tmp_path):
    archive, batches = _write_cifar(tmp_path)
    train = load_cifar10(archive, "train")
    assert train.images.shape == (20, 3, 32, 32) and train.images.dtype == torch.uint8
    first = batches["data_batch_1"]
    assert torch.equal(train.images[0].flatten(), torch.from_numpy(first[b"data"][0]))
    assert train.labels[:4].tolist() == first[b"labels"]
    test = load_dataset(archive, "test")
    assert len(test) == 4 and test.classes[0] == "airplane"
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    folder = load_cifar10(tmp_path / "x" / "cifar-10-batches-py", "train")
    assert torch.equal(folder.images, train.images)
    with pytest.raises(ValueError, match="valid splits"):
        load_cifar10(archive, "valid")


def test_cifar_refuses_foreign_pickles(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    for i in range(1, 6):
        (root / f"data_batch_{i}").write_bytes(pickle.dumps({b"data": Evil(), b"labels": []}))
    with pytest.raises(ValueError, match="malformed"):
        load_cifar10(root)


def _write_images(root, split, per_class=3, size=8, fmt="PNG"):
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        folder = root / split / cls
        folder.mkdir(parents=True)
        for i in range(per_class):
            array = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(array).save(folder / f"{i:04d}.{fmt.lower().replace('jpeg', 'jpg')}", fmt)


def test_image_folder_directory_and_tar(tmp_path):
    root = tmp_path / "imgs"
    _write_images(root, "train")
    _write_images(root, "test", fmt="JPEG")
    data = load_image_folder(root, "train")
    assert data.images.shape == (6, 3, 8, 8) and data.classes == ("cat", "dog")
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert torch.equal(data.images[0], torch.from_numpy(np.array(Image.open(root / "train/cat/0000.png"))).permute(2, 0, 1))
    tar_path = tmp_path / "imgs.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(root, arcname=".")
    from_tar = load_dataset(tar_path, "train")
    assert torch.equal(from_tar.images, data.images) and torch.equal(from_tar.labels, data.labels)
    jpg = load_dataset(tar_path, "test", limit=4, generator=torch.Generator().manual_seed(0))
    assert len(jpg) == 4 and jpg.classes == ("cat", "dog")
    with pytest.raises(ValueError, match="splits found: test, train"):
        load_image_folder(root, "valid")


def test_load_dataset_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="neither"):
        load_dataset(tmp_path / "empty")


def test_split_limit_and_synthetic():
    data = synthetic_images(40, size=8, generator=torch.Generator().manual_seed(0))
    a, b = data.split(0.5, generator=torch.Generator().manual_seed(1))
    assert len(a) == len(b) == 20
    assert len(data.limit(10, generator=torch.Generator().manual_seed(2))) == 10
    with pytest.raises(ValueError):
        data.split(1.0)


def test_augment_crop_and_flip():
    images = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).view(2, 3, 4, 4)
    out = augment_batch(images, padding=0, generator=torch.Generator().manual_seed(0))
    for i in range(2):
        assert torch.equal(out[i], images[i]) or torch.equal(out[i], images[i].flip(2))
    padded = augment_batch(images, padding=2, generator=torch.Generator().manual_seed(1))
    assert padded.shape == images.shape
    # every crop is a window of the zero-padded image
    big = torch.nn.functional.pad(images, (2, 2, 2, 2))
    for i in range(2):
        windows = [big[i, :, y:y + 4, x:x + 4] for y in range(5) for x in range(5)]
        assert any(torch.equal(padded[i], w) or torch.equal(padded[i], w.flip(2)) for w in windows)


def test_loader_batches_are_seeded_per_epoch():
    data = synthetic_images(50, size=8, generator=torch.Generator().manual_seed(0))
    loader = BatchLoader(data, 16, seed=3)
    assert len(loader) == 3
    x, y = next(iter(loader))
    assert x.shape == (16, 3, 8, 8) and x.dtype == torch.float32 and y.shape == (16,)
    first = [b[0] for b in loader]
    again = [b[0] for b in BatchLoader(data, 16, seed=3)]
    assert all(torch.equal(p, q) for p, q in zip(first, again))
    loader.set_epoch(1)
    assert not torch.equal(next(iter(loader))[0], first[0])
    with pytest.raises(ValueError, match="batch"):
        BatchLoader(data, 64)


def test_reading_an_image_tar_shows_progress_and_lists_it_once(tmp_path, capsys, monkeypatch):
    root = tmp_path / "imgs"
    _write_images(root, "train")
    tar_path = tmp_path / "imgs.tar"
    with tarfile.open(tar_path, "w") as tar:
        tar.add(root, arcname=".")
    full_scans = []
    original = tarfile.TarFile.getmembers
    monkeypatch.setattr(tarfile.TarFile, "getmembers", lambda self: full_scans.append(1) or original(self))
    quiet = load_dataset(tar_path, "train")
    assert capsys.readouterr().err == ""  # progress is opt-in (the run commands turn it on)
    import darts_backend.data as data_module

    data_module._cache.clear()  # the per-process cache of decoded subsets would answer without reading
    shown = load_dataset(tar_path, "train", progress=True)
    err = capsys.readouterr().err
    assert "listing imgs.tar" in err and "decoding train images" in err
    assert torch.equal(quiet.images, shown.images) and full_scans == []  # no getmembers pass besides the loader's own
