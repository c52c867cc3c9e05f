"""Synthetic demo data: :func:`generate` writes raw.telemetry, raw.incidents, raw.scenario."""

from lakeops.data.generate import GenerateResult, generate

__all__ = ["GenerateResult", "generate"]
