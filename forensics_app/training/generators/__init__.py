"""Generators of synthetic speech for training data (see :mod:`.registry`)."""

from forensics_app.training.generators.registry import (
    FAMILIES,
    GeneratorContext,
    GeneratorSpec,
    all_generators,
    families,
    generator,
    get,
)

__all__ = [
    "FAMILIES",
    "GeneratorContext",
    "GeneratorSpec",
    "all_generators",
    "families",
    "generator",
    "get",
]
