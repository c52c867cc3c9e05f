"""The champion/challenger gate: promote a new model only when it is better on the same holdout.

Reads ``features.<model>`` and the registry; writes ``ml.model_validations`` and the ``champion`` alias.
"""

from lakeops.gate.champion import GateDecision, compare, validate_model

__all__ = ["GateDecision", "compare", "validate_model"]
