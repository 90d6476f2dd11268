-- The router's store of record: customers, tickets, messages, threading keys and the outbox.

CREATE TABLE customers (
    customer_id  uuid PRIMARY KEY,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Identities are kept as keyed hashes: linking a person across channels needs equality, not the value.
CREATE TABLE customer_identities (
    kind         text NOT NULL CHECK (kind IN ('customer_id', 'phone', 'email', 'social')),
    value_hash   text NOT NULL,
    customer_id  uuid NOT NULL REFERENCES customers (customer_id),
    PRIMARY KEY (kind, value_hash)
);
CREATE INDEX customer_identities_customer ON customer_identities (customer_id);

CREATE TABLE tickets (
    ticket_id         uuid PRIMARY KEY,
    conversation_key  text NOT NULL,
    status            text NOT NULL CHECK (status IN ('waiting', 'assigned', 'waiting_on_customer', 'resolved')),
    channel           text NOT NULL,
    priority          text NOT NULL CHECK (priority IN ('P1', 'P2', 'P3', 'P4')),
    skill_group       text NOT NULL,
    intent            text NOT NULL,
    language          text NOT NULL,
    reasons           jsonb NOT NULL,
    redacted          boolean NOT NULL DEFAULT false,
    customer_id       uuid REFERENCES customers (customer_id),
    assigned_agent    text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    waiting_since     timestamptz NOT NULL,
    first_response_at timestamptz,
    resolved_at       timestamptz
);
-- The claim query walks this index: priority first, then age, waiting tickets only.
CREATE INDEX tickets_queue ON tickets (skill_group, priority, waiting_since) WHERE status = 'waiting';
CREATE INDEX tickets_agent ON tickets (assigned_agent) WHERE status IN ('assigned', 'waiting_on_customer');
CREATE INDEX tickets_customer ON tickets (customer_id) WHERE status <> 'resolved';

-- Every key a later message may thread by: the conversation key and each email Message-ID.
CREATE TABLE thread_keys (
    thread_key  text PRIMARY KEY,
    ticket_id   uuid NOT NULL REFERENCES tickets (ticket_id)
);

CREATE TABLE messages (
    message_id   uuid PRIMARY KEY,
    ticket_id    uuid NOT NULL REFERENCES tickets (ticket_id),
    channel      text NOT NULL,
    external_id  text NOT NULL,
    subject      text,
    body         text NOT NULL,
    quoted       text,
    language     text NOT NULL,
    redactions   jsonb NOT NULL DEFAULT '{}'::jsonb,
    attributes   jsonb NOT NULL DEFAULT '{}'::jsonb,
    received_at  timestamptz NOT NULL,
    routed_at    timestamptz NOT NULL
);
CREATE INDEX messages_ticket ON messages (ticket_id, received_at);

-- Transactional outbox: rows written with the ticket, published after commit, then deleted.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    topic       text NOT NULL,
    key         bytea NOT NULL,
    value       bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
