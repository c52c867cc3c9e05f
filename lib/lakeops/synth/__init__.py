"""Synthetic demo data: :func:`generate` writes raw.telemetry, raw.incidents, raw.scenario."""

from lakeops.synth.generate import GenerateResult, check_generate_args, generate

__all__ = ["GenerateResult", "check_generate_args", "generate"]
