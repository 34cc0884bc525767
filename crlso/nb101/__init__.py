"""The NB101 parts of the latent model: decoder (`crlso.nb101.decoder`), training cells sampled from
the space (`crlso.nb101.cells`) and structural features (`crlso.nb101.features`); the ranking
benchmark on NASLib's labelled cells is `crlso.rank_benchmark` with ``space="nb101"``.

Importing `crlso.decoder` registers the decoder; the other modules are imported where used.
"""
