-- The SLA service's state: the events each ticket's clocks are computed from, the clocks as last
-- computed, the escalations still to fire, and the escalations fired (the exactly-once ledger).

CREATE TABLE sla_tickets (
    ticket_id    uuid PRIMARY KEY,
    channel      text NOT NULL,
    priority     text NOT NULL,
    skill_group  text NOT NULL,
    intent       text NOT NULL,
    visibility   text,
    created_at   timestamptz NOT NULL,
    status       text NOT NULL DEFAULT 'open',
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Events are keyed so that a re-delivered record changes nothing.
CREATE TABLE sla_events (
    event_key   text PRIMARY KEY,
    ticket_id   uuid NOT NULL,
    kind        text NOT NULL,
    at          timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sla_events_ticket ON sla_events (ticket_id, at);

CREATE TABLE sla_clocks (
    ticket_id        uuid NOT NULL,
    target           text NOT NULL,
    cycle            int NOT NULL DEFAULT 0,
    state            text NOT NULL,
    target_seconds   double precision NOT NULL,
    calendar         text NOT NULL,
    started_at       timestamptz,
    due_at           timestamptz,
    at_risk_at       timestamptz,
    stopped_at       timestamptz,
    elapsed_seconds  double precision NOT NULL DEFAULT 0,
    status           text NOT NULL DEFAULT 'on_track',
    rule             text NOT NULL DEFAULT '',
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, target)
);
CREATE INDEX sla_clocks_state ON sla_clocks (state);
CREATE INDEX sla_clocks_updated ON sla_clocks (updated_at);

-- Escalations still to fire; rewritten whenever a ticket's clocks are recomputed.
CREATE TABLE sla_timers (
    dedupe_key   text PRIMARY KEY,
    ticket_id    uuid NOT NULL,
    target       text NOT NULL,
    level        int NOT NULL,
    cycle        int NOT NULL,
    kind         text NOT NULL,
    escalate_to  text NOT NULL,
    fire_at      timestamptz NOT NULL,
    due_at       timestamptz NOT NULL,
    priority     text NOT NULL,
    skill_group  text NOT NULL,
    channel      text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sla_timers_ticket ON sla_timers (ticket_id);
CREATE INDEX sla_timers_updated ON sla_timers (updated_at);

-- The ledger: a row here means the escalation happened; the primary key makes it happen once.
CREATE TABLE sla_escalations (
    dedupe_key    text PRIMARY KEY,
    ticket_id     uuid NOT NULL,
    target        text NOT NULL,
    level         int NOT NULL,
    cycle         int NOT NULL,
    kind          text NOT NULL,
    escalate_to   text NOT NULL,
    due_at        timestamptz NOT NULL,
    fire_at       timestamptz NOT NULL,
    emitted_at    timestamptz NOT NULL,
    published_at  timestamptz,
    value         bytea NOT NULL
);
CREATE INDEX sla_escalations_ticket ON sla_escalations (ticket_id);
CREATE INDEX sla_escalations_unpublished ON sla_escalations (emitted_at) WHERE published_at IS NULL;
