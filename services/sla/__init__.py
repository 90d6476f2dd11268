"""SLA domain as a pure library: calendars, policies, clocks, escalation ladder, timer queue."""
