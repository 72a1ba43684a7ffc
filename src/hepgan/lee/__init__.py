"""The look-elsewhere study of seed 004: a deep classifier (supervised or semi-supervised), batches from the
top of its response, binned Poisson fits of m_llg with and without a Gaussian bump, local significances,
and the look-elsewhere effect from background-only pseudo-experiments drawn from a WGAN-GP
(:mod:`hepgan.lee.fits`, :mod:`hepgan.lee.classifier`, :mod:`hepgan.lee.chain`).
"""
