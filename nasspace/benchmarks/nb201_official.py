"""Read the official NAS-Bench-201 file (``NAS-Bench-201-v1_*.pth``) through ``nas_201_api``.

The file is loaded with ``torch.load(..., weights_only=True)`` (it holds only dicts, lists and
numbers), and the dict is handed to ``NASBench201API``, so the API's own unrestricted load never
runs. torch and nas_201_api are imported here, on demand; the rest of nasspace stays torch-free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nasspace.errors import DataError, OptionError

__all__ = ["read_official"]

# (API dataset name, metric key of get_more_info, hp) for each of our metrics and datasets.
_SPEC: dict[str, dict[str, tuple[str, str, str]]] = {
    "cifar10": {
        "valid_acc": ("cifar10-valid", "valid-accuracy", "200"),
        "train_time": ("cifar10-valid", "train-all-time", "200"),
        "test_acc": ("cifar10", "test-accuracy", "200"),
        "valid_acc_12ep": ("cifar10-valid", "valid-accuracy", "12"),
        "test_acc_12ep": ("cifar10", "test-accuracy", "12"),
    },
    "cifar100": {
        "valid_acc": ("cifar100", "valid-accuracy", "200"),
        "train_time": ("cifar100", "train-all-time", "200"),
        "test_acc": ("cifar100", "test-accuracy", "200"),
        "valid_acc_12ep": ("cifar100", "valid-accuracy", "12"),
        "test_acc_12ep": ("cifar100", "test-accuracy", "12"),
    },
    "ImageNet16-120": {
        "valid_acc": ("ImageNet16-120", "valid-accuracy", "200"),
        "train_time": ("ImageNet16-120", "train-all-time", "200"),
        "test_acc": ("ImageNet16-120", "test-accuracy", "200"),
        "valid_acc_12ep": ("ImageNet16-120", "valid-accuracy", "12"),
        "test_acc_12ep": ("ImageNet16-120", "test-accuracy", "12"),
    },
}


def read_official(path_or_dict: str | Path | dict[str, Any], dataset: str) -> tuple[list[str], dict[str, np.ndarray]]:
    """Arch strings (official order) and ``{metric: (num_cells,) array}`` of one dataset.

    Cells the file has not evaluated, or metrics a cell lacks, are NaN.

    Raises:
        DataError: the file cannot be read or is not in the NAS-Bench-201 format.
        ValueError: unknown dataset.
    """
    if dataset not in _SPEC:
        raise OptionError(f"unknown NB201 dataset {dataset!r}; valid datasets: {', '.join(_SPEC)}")
    import torch
    from nas_201_api import NASBench201API

    if isinstance(path_or_dict, dict):
        raw = path_or_dict
    else:
        path = Path(path_or_dict)
        if not path.is_file():
            raise DataError(f"official NAS-Bench-201 file not found: {path}")
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # unpickling errors come in many types
            raise DataError(f"cannot read {path.name} as a NAS-Bench-201 file: {exc}") from None
    if not isinstance(raw, dict) or not {"meta_archs", "arch2infos", "evaluated_indexes"} <= raw.keys():
        raise DataError("not a NAS-Bench-201 file: expected a dict with meta_archs, arch2infos, evaluated_indexes")
    try:
        api = NASBench201API(raw, verbose=False)
    except Exception as exc:
        raise DataError(f"nas_201_api rejected the file: {exc}") from None
    arch_strings = [str(s) for s in api.meta_archs]
    metrics = {name: np.full(len(arch_strings), np.nan) for name in _SPEC[dataset]}
    for index in api.evaluated_indexes:
        for name, (api_dataset, key, hp) in _SPEC[dataset].items():
            try:
                info = api.get_more_info(index, api_dataset, hp=hp, is_random=False)
            except Exception:  # the API raises bare errors for absent runs; the value stays NaN
                continue
            value = info.get(key)
            if value is not None:
                metrics[name][index] = float(value)
    return arch_strings, metrics
