"""The rules in force, swappable at run time: SIGHUP reloads them, a bad file keeps the old ones."""

from __future__ import annotations

import logging
from pathlib import Path

from services.router.metrics import RULES_RELOADS
from services.router.triage import RulesError, Triage

log = logging.getLogger(__name__)


class RulesHolder:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.current = Triage.load(path)

    def reload(self) -> bool:
        try:
            fresh = Triage.load(self.path)
        except (RulesError, OSError) as exc:
            RULES_RELOADS.labels("invalid").inc()
            log.exception(
                "rules reload refused; keeping the rules in force", extra={"error": str(exc)}
            )
            return False
        self.current = fresh
        RULES_RELOADS.labels("ok").inc()
        log.info("rules reloaded")
        return True
