"""The NB101 parts of the latent model: decoder (`crlso.nb101.decoder`), training cells sampled from
the space (`crlso.nb101.cells`), structural features (`crlso.nb101.features`) and the ranking
benchmark on NASLib's labelled cells (`crlso.nb101.rank_bench`).

Importing `crlso.decoder` registers the decoder; the other modules are imported where used.
"""
