"""Seeded demo feeds for clearcap (see shared/spec/feeds.md): `generate(landing, ...)`."""
from .generator import generate

__all__ = ["generate"]
