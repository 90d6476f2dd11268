"""Switchboard's benchmark: each figure beside a baseline measured in the same run (SPEC §7).

``python -m bench`` against the stack that ``make up`` started; ``docs/benchmarks.md`` says what
every number means and how it is taken.
"""
