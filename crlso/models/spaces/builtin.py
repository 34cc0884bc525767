"""The adapters of the spaces with hand-written parts: NB201, NB101 and DARTS.

- ``nb201``: every one of the 15,625 cells; the generic decoder (one categorical per edge).
- ``nb101`` (423,624 cells): 10,000 cells sampled from the space, seeded, then NASLib's labelled NB101 cells
  not among them (genotypes only; `crlso.models.nb101.cells`); the hand-written `NB101Decoder`, whose repair
  uses the edge probabilities (the generic decoder reads the cells through `crlso.models.nb101.choices`).
- ``darts`` (about 10^18 genotypes): the 11,221 unlabelled DARTS genotypes of NASLib's
  ``archs_nasbench301.json`` (file order), then the 500 NAS-Bench-301 cells of NASLib's zero-cost file (table
  order), labels never used; the generic decoder over `nasspace.darts_choices` (32 choices), a positional readout, a wider decoder and a larger code
  (on 1,000 cells x 20 epochs that took per-choice reconstruction from 0.50 to 0.93, held-out 0.48 to 0.72). The
  unlabelled pre-training adds 30,000 seeded random DARTS genotypes (`SpaceAdapter.pretrain_samples`): held-out
  reconstruction 0.854 -> 0.962 at 30 epochs (100 epochs without them: 0.912); searches still move among the
  11,721 cells.

The DARTS files differ in how a node lists its two pairs: the unlabelled genotypes always list the smaller
input first, the NB301 cells do so in about half of the nodes only. The strings are kept as the files give
them (the NB301 table is keyed by them).
"""

from __future__ import annotations

from nasspace import Genotype, get_space
from nasspace.fetch import DataStore

from crlso.models.spaces.adapter import SpaceAdapter
from crlso.models.spaces.registry import register_adapter

__all__ = ["NB201_ADAPTER", "NB101_ADAPTER", "DARTS_ADAPTER"]


def _nb101_decoder(**sizes: int):
    from crlso.models.nb101.decoder import NB101Decoder

    return NB101Decoder(**sizes)


def _nb101_codec():
    from crlso.models.nb101.choices import NB101Choices

    return NB101Choices()


def _darts_codec():
    from nasspace.darts_choices import DARTSChoices

    return DARTSChoices()


def _nb201_cells(data_dir: str | None) -> tuple[Genotype, ...]:
    return tuple(get_space("nb201").enumerate())


def _nb101_cells(data_dir: str | None) -> tuple[Genotype, ...]:
    from crlso.models.nb101.cells import nb101_training_cells

    return nb101_training_cells(DataStore(data_dir))


def _darts_cells(data_dir: str | None) -> tuple[Genotype, ...]:
    from nasspace.benchmarks.subsets import SubsetTable, load_unlabelled_darts

    store = DataStore(data_dir)
    cells: dict[str, Genotype] = {}
    for genotype in [*load_unlabelled_darts(store), *SubsetTable("darts", store=store).genotypes]:
        cells.setdefault(str(genotype), genotype)
    return tuple(cells.values())


NB201_ADAPTER = register_adapter(SpaceAdapter(
    name="nb201", max_nodes=8, training_cells=_nb201_cells, enumerated=True,
    description="NAS-Bench-201 cells: 5 ops on 6 edges"))
NB101_ADAPTER = register_adapter(SpaceAdapter(
    name="nb101", max_nodes=7, training_cells=_nb101_cells, enumerated=False, codec=_nb101_codec, decoder=_nb101_decoder,
    cache_tag=("naslib-zc-nb101", "nb101-sampled-10000-seed0-v1"),
    description="NAS-Bench-101 cells: up to 7 vertices, 9 edges"))
DARTS_ADAPTER = register_adapter(SpaceAdapter(
    name="darts", max_nodes=30, training_cells=_darts_cells, enumerated=False, codec=_darts_codec,
    model_overrides={"readout": "positions", "decoder_hidden": 256, "latent_dim": 32},
    cache_tag=("naslib-archs-nb301", "naslib-zc-nb301", "pretrain-samples-30000-seed0"), pretrain_samples=30_000,
    description="DARTS genotypes: normal and reduction cells of 4 nodes"))
