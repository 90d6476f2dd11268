-- The SLA engine keeps only the rungs due within its horizon in memory and pulls the next
-- slice as time moves on: that read is by fire_at.
CREATE INDEX IF NOT EXISTS sla_timers_fire_at ON sla_timers (fire_at);
