"""Shared kernel of the IVR product: settings, errors, crypto, phone, database engine, output.

It imports nothing of ours: every other package builds on it (the operator shell is `shell/`).
"""

__version__ = "0.1.0"
