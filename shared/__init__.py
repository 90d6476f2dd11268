"""Switchboard's shared library: what the intake, router and SLA services have in common."""
