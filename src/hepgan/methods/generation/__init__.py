"""Event generation with a GAN and an MMD term for resonances (Butter, Plehn, Winterhalder, arXiv:1907.03764).

The folder: ``model`` (:class:`EventGAN` and its training task), ``config`` (the run config,
``method: generation``), ``run`` (train -> generate -> evaluate), ``evaluate`` (peak widths,
momentum balance, figures, report sections), ``generate`` (Parquet, ROOT or LHE files) and
``cli`` (``hepgan generate``).

The public names below are imported on first use.
"""

from __future__ import annotations

from hepgan.methods import Method, lazy_attributes

METHOD = Method(
    name="generation",
    summary="event generation: a GAN with an MMD term on resonance masses (top pairs)",
    config="hepgan.methods.generation.config:GenerationRunConfig",
    train="hepgan.methods.generation.run:train_run",
    report="hepgan.methods.generation.run:write_run_report",
    formats={"hepgan.EventGAN": "hepgan.methods.generation.model:EventGAN"},
    commands="hepgan.methods.generation.cli:COMMANDS",
)

_LAZY = {
    "EventGAN": "model",
    "EventGANTask": "model",
    "MOMENTUM_SUMS": "model",
    "TTBAR_MASSES": "model",
    "TTBAR_MMD_WIDTHS": "model",
    "MODEL_FORMAT_VERSION": "model",
    "peak_width": "model",
    "GenerationRunConfig": "config",
    "train_run": "run",
    "write_evaluation": "evaluate",
    "generate_file": "generate",
}

__all__ = ["METHOD", *_LAZY]


__getattr__ = lazy_attributes(__name__, _LAZY)
