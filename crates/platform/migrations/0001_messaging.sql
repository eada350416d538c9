-- Transactional outbox and idempotent-consumer inbox, in every service's own schema.

CREATE TABLE outbox (
    id             BIGSERIAL PRIMARY KEY,
    message_id     UUID        NOT NULL,
    exchange       TEXT        NOT NULL,
    routing_key    TEXT        NOT NULL,
    message_type   TEXT        NOT NULL,
    content_type   TEXT        NOT NULL,
    correlation_id TEXT,
    -- traceparent/tracestate of the transaction that wrote the row, plus extra headers.
    headers        JSONB       NOT NULL DEFAULT '{}',
    payload        BYTEA       NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts       INTEGER     NOT NULL DEFAULT 0,
    last_error     TEXT,
    sent_at        TIMESTAMPTZ,
    -- Set only for replies to a sender's reply_to queue that stayed unroutable.
    abandoned_at   TIMESTAMPTZ
);

CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL AND abandoned_at IS NULL;

CREATE TABLE inbox (
    consumer     TEXT        NOT NULL,
    message_id   TEXT        NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
