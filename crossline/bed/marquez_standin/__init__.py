"""Marquez API stand-in (placeholder)."""
