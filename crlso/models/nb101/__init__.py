"""The NB101 parts of the latent model: decoder (`crlso.models.nb101.decoder`), training cells sampled from
the space (`crlso.models.nb101.cells`) and structural features (`crlso.models.nb101.features`); the ranking
benchmark on NASLib's labelled cells is `crlso.ranking.benchmark` with ``space="nb101"``.

Importing `crlso.models.decoder` registers the decoder; the other modules are imported where used.
"""
