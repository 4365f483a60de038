"""Synthetic multicentre CAR-T extracts (``cartwh generate``).

The latent cohort (quota-calibrated to the study's marginals) is generated
chunk by chunk; each centre delivers growing snapshots in its own layout
(``xz`` canonical, ``tj`` Excel, ``zz`` GB18030 CSV, ``zj`` wide), with
logged imperfections and corrections, and optionally the latent truth.
"""

from .consortium import GenerationSummary, generate_consortium

__all__ = ["GenerationSummary", "generate_consortium"]
