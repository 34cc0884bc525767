"""Feature-based knowledge distillation from any teacher module (DNAD's KD term).

The teacher is any frozen ``nn.Module``: its stage-end features are read with forward hooks on named
submodules (`FeatureTeacher`), so a network built from a genotype (`DartsNetwork.stage_end_names`), a
user's checkpoint loaded into one, or any other model with named stages works alike. The student's
stage-end features each pass a 1x1 conv + BN to the teacher's width (`FeatureDistiller`), are
average-pooled to the teacher's resolution when they are larger, and are compared by MSE with the
teacher's features normalised per channel by batch statistics (affine-free BN). The loss is the
weighted sum over stages (default weights 0.2, 0.3, 0.5).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from darts_backend.errors import ConfigError

__all__ = ["FeatureTeacher", "FeatureDistiller", "DEFAULT_STAGE_WEIGHTS"]

DEFAULT_STAGE_WEIGHTS: tuple[float, ...] = (0.2, 0.3, 0.5)


class FeatureTeacher(nn.Module):
    """A frozen teacher whose named submodules' outputs are its features.

    Args:
        model: the teacher (put in eval mode, gradients off).
        layers: names (as in ``model.named_modules()``) of the modules whose outputs are taken, in stage order.

    Raises:
        ValueError: a layer name is not a submodule of `model` (the message lists some valid names).
    """

    def __init__(self, model: nn.Module, layers: Sequence[str]):
        super().__init__()
        modules = dict(model.named_modules())
        missing = [name for name in layers if name not in modules]
        if missing or not layers:
            sample = ", ".join(list(modules)[1:12])
            raise ConfigError(f"teacher has no submodules {missing or '(none given)'}; e.g. {sample}")
        self.model = model.eval().requires_grad_(False)
        self.layers = tuple(layers)
        self._captured: dict[str, torch.Tensor] = {}
        for name in self.layers:
            modules[name].register_forward_hook(self._hook(name))

    def _hook(self, name: str):  # type: ignore[no-untyped-def]
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            self._captured[name] = output

        return hook

    def train(self, mode: bool = True) -> "FeatureTeacher":
        """The teacher always stays in eval mode."""
        super().train(mode)
        self.model.eval()
        return self

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``(B, 3, H, W) ->`` the list of ``(B, C_s, H_s, W_s)`` features of `layers`."""
        self._captured.clear()
        self.model(x)
        return [self._captured[name] for name in self.layers]

    @torch.no_grad()
    def channels(self, input_size: tuple[int, int, int] = (3, 32, 32)) -> list[int]:
        """Channels of each feature (one dry run on a zero image of `input_size`)."""
        device = next(self.model.parameters()).device
        return [int(f.shape[1]) for f in self(torch.zeros(2, *input_size, device=device))]


class FeatureDistiller(nn.Module):
    """Adapters from student features to a teacher's, and the weighted feature MSE.

    Args:
        teacher: the frozen teacher.
        student_channels: channels of each student stage-end feature.
        teacher_channels: channels of each teacher feature (same count as `student_channels`).
        stage_weights: weight of each stage's MSE.

    Raises:
        ValueError: the three lists differ in length.
    """

    def __init__(self, teacher: FeatureTeacher, student_channels: Sequence[int], teacher_channels: Sequence[int],
                 stage_weights: Sequence[float] = DEFAULT_STAGE_WEIGHTS):
        super().__init__()
        if not len(student_channels) == len(teacher_channels) == len(stage_weights):
            raise ConfigError(f"need one student width, teacher width and weight per stage, got "
                              f"{len(student_channels)}, {len(teacher_channels)}, {len(stage_weights)}")
        self.teacher = teacher
        self.stage_weights = tuple(float(w) for w in stage_weights)
        self.adapters = nn.ModuleList(
            nn.Sequential(nn.Conv2d(cs, ct, 1, bias=False), nn.BatchNorm2d(ct))
            for cs, ct in zip(student_channels, teacher_channels)
        )

    def adapter_parameters(self) -> list[nn.Parameter]:
        """Trainable parameters (the adapters; the teacher is frozen)."""
        return list(self.adapters.parameters())

    def teacher_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The teacher's features on `x`, BN-normalised per channel (no gradient)."""
        return [F.batch_norm(t.float(), None, None, training=True) for t in self.teacher(x)]

    def loss(self, student_features: Sequence[torch.Tensor], teacher_features: Sequence[torch.Tensor]) -> torch.Tensor:
        """Weighted feature MSE, a 0-dim tensor.

        Args:
            student_features: ``(B, C_s, H_s, W_s)`` per stage.
            teacher_features: ``(B, C_t, H_t, W_t)`` per stage, already normalised (`teacher_features`).
        """
        total = student_features[0].new_zeros((), dtype=torch.float32)
        for adapter, weight, s, t in zip(self.adapters, self.stage_weights, student_features, teacher_features):
            a = adapter(s).float()
            if a.shape[-2:] != t.shape[-2:]:
                a = F.adaptive_avg_pool2d(a, t.shape[-2:])
            total = total + weight * F.mse_loss(a, t)
        return total

    def forward(self, x: torch.Tensor, student_features: Sequence[torch.Tensor]) -> torch.Tensor:
        """The KD loss of `student_features` (computed by the student on `x`) against the teacher on `x`."""
        return self.loss(student_features, self.teacher_features(x))
