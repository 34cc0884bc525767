"""crlso: latent-space NAS (graph VAE + input-convex predictor), searches, ranking and experiments."""
