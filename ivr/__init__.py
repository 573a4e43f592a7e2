"""Shared kernel of the IVR product: settings, errors, crypto core, CLI, process supervisor."""

__version__ = "0.1.0"
