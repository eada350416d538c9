-- Reception (reg 6, 8.7): officials, schedules, bookings with their outcomes, the waiting
-- list, notifications to visitors, minutes, and appeals known to be closed.

CREATE TABLE officials (
    id            TEXT PRIMARY KEY,
    full_name     TEXT        NOT NULL,
    position      TEXT        NOT NULL,
    kind          TEXT        NOT NULL,
    body          TEXT        NOT NULL,
    district      TEXT        NOT NULL DEFAULT '',
    topics        TEXT[]      NOT NULL DEFAULT '{}',
    supervisor_id TEXT        NOT NULL DEFAULT '',
    active        BOOLEAN     NOT NULL DEFAULT TRUE,
    -- `seed` (demo data file) or `api`; the file never overwrites an edit made over gRPC.
    source        TEXT        NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX officials_body ON officials (body);

CREATE TABLE schedules (
    official_id TEXT PRIMARY KEY REFERENCES officials (id),
    schedule    JSONB       NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE bookings (
    id                    UUID PRIMARY KEY,
    request_id            TEXT UNIQUE,
    official_id           TEXT        NOT NULL REFERENCES officials (id),
    body                  TEXT        NOT NULL,
    starts_at             TIMESTAMPTZ NOT NULL,
    minutes               INTEGER     NOT NULL,
    format                TEXT        NOT NULL,
    kind                  TEXT        NOT NULL,
    venue                 JSONB       NOT NULL DEFAULT '{}',
    session_id            UUID,
    status                TEXT        NOT NULL,
    -- Personal data of the visitor: returned over gRPC only, never in events or logs.
    visitor_name          TEXT        NOT NULL,
    visitor_iin           TEXT        NOT NULL,
    visitor_phone         TEXT        NOT NULL,
    visitor_organisation  TEXT        NOT NULL DEFAULT '',
    issue                 TEXT        NOT NULL,
    category              TEXT        NOT NULL DEFAULT '',
    earlier_appeal        TEXT        NOT NULL DEFAULT '',
    participants          TEXT[]      NOT NULL DEFAULT '{}',
    language              TEXT        NOT NULL,
    district              TEXT        NOT NULL DEFAULT '',
    booked_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    booked_by             TEXT        NOT NULL DEFAULT '',
    checked_in_at         TIMESTAMPTZ,
    finished_at           TIMESTAMPTZ,
    cancel_reason         TEXT        NOT NULL DEFAULT '',
    waiting_list_entry_id UUID,
    updated_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The rule that a slot is never booked twice, even under concurrent requests: at most one
-- booking that is not cancelled per official and start.
CREATE UNIQUE INDEX bookings_one_per_slot ON bookings (official_id, starts_at)
    WHERE status <> 'cancelled';
CREATE INDEX bookings_official_time ON bookings (official_id, starts_at);
CREATE INDEX bookings_pending ON bookings (starts_at) WHERE status = 'booked';

CREATE TABLE outcomes (
    booking_id          UUID        NOT NULL REFERENCES bookings (id),
    kind                TEXT        NOT NULL,
    note                TEXT        NOT NULL DEFAULT '',
    appeal_id           TEXT        NOT NULL DEFAULT '',
    registration_number TEXT        NOT NULL DEFAULT '',
    instruction_id      TEXT        NOT NULL DEFAULT '',
    recorded_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    recorded_by         TEXT        NOT NULL DEFAULT '',
    -- Set when control reports the appeal closed (`appeal.closed`).
    appeal_closed_at    TIMESTAMPTZ,
    PRIMARY KEY (booking_id, kind)
);
CREATE INDEX outcomes_appeal ON outcomes (appeal_id) WHERE appeal_id <> '';

CREATE TABLE waiting_list (
    id           UUID PRIMARY KEY,
    request_id   TEXT UNIQUE,
    official_id  TEXT        NOT NULL REFERENCES officials (id),
    from_date    DATE        NOT NULL,
    to_date      DATE        NOT NULL,
    visitor_name TEXT        NOT NULL,
    visitor_iin  TEXT        NOT NULL,
    visitor_phone TEXT       NOT NULL,
    visitor_organisation TEXT NOT NULL DEFAULT '',
    issue        TEXT        NOT NULL,
    category     TEXT        NOT NULL DEFAULT '',
    language     TEXT        NOT NULL,
    district     TEXT        NOT NULL DEFAULT '',
    status       TEXT        NOT NULL DEFAULT 'waiting',
    booking_id   UUID,
    joined_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    seq          BIGSERIAL   NOT NULL
);
CREATE INDEX waiting_list_queue ON waiting_list (official_id, seq) WHERE status = 'waiting';

CREATE TABLE notifications (
    id         UUID PRIMARY KEY,
    booking_id UUID        NOT NULL REFERENCES bookings (id),
    kind       TEXT        NOT NULL,
    phone      TEXT        NOT NULL,
    text       TEXT        NOT NULL,
    slot_start TIMESTAMPTZ NOT NULL,
    due_at     TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (booking_id, kind, slot_start)
);

CREATE TABLE minutes (
    official_id    TEXT        NOT NULL REFERENCES officials (id),
    reception_date DATE        NOT NULL,
    text           TEXT        NOT NULL,
    attendees      TEXT[]      NOT NULL DEFAULT '{}',
    recorded_by    TEXT        NOT NULL DEFAULT '',
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (official_id, reception_date)
);

-- Appeals control reported closed (answered), so pre-screening can say so.
CREATE TABLE closed_appeals (
    appeal_id           TEXT PRIMARY KEY,
    registration_number TEXT        NOT NULL DEFAULT '',
    closed_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX closed_appeals_number ON closed_appeals (registration_number);
