"""`GraphVAE`: a graph encoder and a genotype decoder joined by a Gaussian latent."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch

from crlso.models.decoder import GenotypeDecoder
from crlso.models.encoder import GraphEncoder, Posterior

__all__ = ["GraphVAE", "VAEOutput"]


class VAEOutput(NamedTuple):
    """One forward pass: the posterior, the sampled codes ``z (B, d)`` and the decoder logits."""

    posterior: Posterior
    z: Tensor
    logits: Tensor


class GraphVAE(nn.Module):
    """A VAE over architectures, built from parts (as PyG's ``VGAE(encoder, decoder)``).

    Args:
        encoder: graphs -> `Posterior`.
        decoder: latent codes -> logits -> valid genotypes.
        noise_scale: multiplies the reparameterization noise (the public CR-LSO code uses 0.01,
            close to a plain autoencoder; 1.0 is the textbook VAE).
    """

    def __init__(self, encoder: GraphEncoder, decoder: GenotypeDecoder, *, noise_scale: float = 0.01):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.noise_scale = noise_scale

    @property
    def latent_dim(self) -> int:
        return self.encoder.latent_dim

    def encode(self, batch: Batch) -> Posterior:
        return self.encoder(batch)

    def sample(self, posterior: Posterior, generator: torch.Generator | None = None) -> Tensor:
        """``mu + noise_scale * sigma * eps``, ``(B, d)``; eps drawn from ``generator``."""
        eps = torch.randn(posterior.mu.shape, generator=generator, device=posterior.mu.device)
        return posterior.mu + self.noise_scale * torch.exp(0.5 * posterior.logvar) * eps

    def forward(self, batch: Batch, generator: torch.Generator | None = None) -> VAEOutput:
        posterior = self.encode(batch)
        z = self.sample(posterior, generator) if self.training else posterior.mu
        return VAEOutput(posterior, z, self.decoder(z))

    @staticmethod
    def kl(posterior: Posterior) -> Tensor:
        """KL(q(z|x) || N(0, I)) summed over latent dims, averaged over graphs (a scalar)."""
        mu, logvar = posterior
        return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()
