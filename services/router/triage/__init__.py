"""Triage core of the router: classify, prioritise and redact, as a pure library."""

from .decision import Decision, Triage, TriageInput
from .redaction import Redaction
from .rules import RulesError

__all__ = ["Decision", "Redaction", "RulesError", "Triage", "TriageInput"]
