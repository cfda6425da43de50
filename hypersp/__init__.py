"""hypersp: a PyTorch toolkit for Korean speech recognition.

Importing ``hypersp`` is cheap: no models are imported and CUDA is not touched. Components
are found through the registries in ``hypersp.registry``.
"""
__version__ = "0.1.0"
