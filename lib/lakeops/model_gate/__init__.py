"""The champion/challenger gate: promote a new model only when it is better on the same holdout.

Reads ``features.<model>`` and the registry; writes ``ml.model_validations`` and the ``champion`` alias.
"""

from lakeops.model_gate.champion import GateDecision, validate_model
from lakeops.model_gate.decision import Check, GateCase, Measured, Verdict, check, decide

__all__ = ["GateCase", "GateDecision", "Verdict", "check", "Check", "Measured", "decide", "validate_model"]
