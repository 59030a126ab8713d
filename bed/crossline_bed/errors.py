"""The bed's own errors: outside crossline's hierarchy, because the bed is not the product.

Contract: every error the bed raises on purpose derives from ``BedError``. A product error
(``crossline.errors.CrosslineError``) that the bed meets while driving the product passes
through unchanged. ``crossline-bed`` prints a ``BedError`` as one line and exits 4 (a part
of the bed could not be had) or 2 (``BedConfigError``: a setting or a taken port).
"""

from __future__ import annotations


class BedError(Exception):
    """A part of the local bed (PostgreSQL, Marquez, moto, Airflow) failed to start, stop or play."""


class BedConfigError(BedError):
    """A setting of the bed is malformed or contradicts the machine (e.g. a port in use)."""
