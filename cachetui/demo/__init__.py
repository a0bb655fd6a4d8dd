"""Realistic BuildKit-shaped caches for the demo, tests and benchmarks (see :mod:`.generator`)."""
