"""darts_backend: supernets, discrete networks, DARTS-family searchers and image data."""
