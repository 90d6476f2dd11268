"""Triage core of the router: classify, prioritise and redact, as a pure library."""

from shared.redaction import Redaction

from .decision import Decision, Triage, TriageInput
from .rules import RulesError

__all__ = ["Decision", "Redaction", "RulesError", "Triage", "TriageInput"]
