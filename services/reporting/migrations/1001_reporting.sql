-- Reporting's read model. `events` is the service's own append-only copy of every event,
-- from which everything else can be rebuilt (`rebuild`). The projections and roll-ups are
-- updated in the same transaction as the event is stored.

CREATE TABLE events (
    seq          BIGSERIAL PRIMARY KEY,
    message_id   TEXT        NOT NULL UNIQUE,
    event_type   TEXT        NOT NULL,
    payload_type TEXT        NOT NULL,
    producer     TEXT        NOT NULL,
    subject      TEXT        NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    envelope     BYTEA       NOT NULL
);

-- One row per appeal: its current state as the events tell it. Appeals written by the data
-- generator are marked `synthetic`.
CREATE TABLE appeals (
    appeal_id           TEXT PRIMARY KEY,
    registration_number TEXT        NOT NULL DEFAULT '',
    -- Set once `appeal.registered` is seen; only then is the appeal in the roll-ups.
    registered_at       TIMESTAMPTZ,
    reg_day             DATE,
    kind                TEXT        NOT NULL DEFAULT '',
    channel             TEXT        NOT NULL DEFAULT '',
    language            TEXT        NOT NULL DEFAULT '',
    region              TEXT        NOT NULL DEFAULT '',
    district            TEXT        NOT NULL DEFAULT '',
    rural_district      TEXT        NOT NULL DEFAULT '',
    kato                TEXT        NOT NULL DEFAULT '',
    collective          BOOLEAN     NOT NULL DEFAULT false,
    repeated            BOOLEAN     NOT NULL DEFAULT false,
    category            TEXT        NOT NULL DEFAULT '',
    subcategory         TEXT        NOT NULL DEFAULT '',
    -- Lead executor (from routing, then from the assignment).
    body                TEXT        NOT NULL DEFAULT '',
    status              TEXT        NOT NULL DEFAULT '',
    due_date            DATE,
    answered_at         TIMESTAMPTZ,
    answered_on_time    BOOLEAN,
    closed_at           TIMESTAMPTZ,
    overdue             BOOLEAN     NOT NULL DEFAULT false,
    returned            INTEGER     NOT NULL DEFAULT 0,
    extended            INTEGER     NOT NULL DEFAULT 0,
    subject             TEXT        NOT NULL DEFAULT '',
    text                TEXT        NOT NULL DEFAULT '',
    synthetic           BOOLEAN     NOT NULL DEFAULT false
);

CREATE INDEX appeals_by_registration ON appeals (registered_at DESC) WHERE registered_at IS NOT NULL;
CREATE INDEX appeals_by_district_category ON appeals (district, category, registered_at DESC);
CREATE INDEX appeals_by_category ON appeals (category, registered_at DESC);
CREATE INDEX appeals_by_district ON appeals (district, registered_at DESC);

-- Roll-ups. `grain` is 'd' (a day, `day` = that day) or 'm' (a month, `day` = its first
-- day); a period is read as whole months plus daily edges (domain::period::Split).

-- Counts of appeals by registration day along one dimension at a time:
-- dim = total | region | district | rural_district (key `district/rural`) | category |
-- body | kind | channel.
CREATE TABLE counts_by_dim (
    dim        TEXT    NOT NULL,
    grain      CHAR(1) NOT NULL,
    day        DATE    NOT NULL,
    key        TEXT    NOT NULL,
    appeals    BIGINT  NOT NULL DEFAULT 0,
    repeated   BIGINT  NOT NULL DEFAULT 0,
    collective BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (dim, grain, day, key)
);

-- District × category, for the map, filtered summaries and spikes.
CREATE TABLE counts_by_district_category (
    grain      CHAR(1) NOT NULL,
    day        DATE    NOT NULL,
    district   TEXT    NOT NULL,
    category   TEXT    NOT NULL,
    appeals    BIGINT  NOT NULL DEFAULT 0,
    repeated   BIGINT  NOT NULL DEFAULT 0,
    collective BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, day, district, category)
);
CREATE INDEX counts_by_district_category_cat ON counts_by_district_category (grain, category, district, day);

-- What each body did, by the day it happened (reg 9.2).
CREATE TABLE body_activity (
    grain                  CHAR(1) NOT NULL,
    day                    DATE    NOT NULL,
    body                   TEXT    NOT NULL,
    assigned               BIGINT  NOT NULL DEFAULT 0,
    answered               BIGINT  NOT NULL DEFAULT 0,
    on_time                BIGINT  NOT NULL DEFAULT 0,
    late                   BIGINT  NOT NULL DEFAULT 0,
    answer_days            BIGINT  NOT NULL DEFAULT 0,
    overdue                BIGINT  NOT NULL DEFAULT 0,
    returned               BIGINT  NOT NULL DEFAULT 0,
    extended               BIGINT  NOT NULL DEFAULT 0,
    closed                 BIGINT  NOT NULL DEFAULT 0,
    instructions_issued    BIGINT  NOT NULL DEFAULT 0,
    instructions_completed BIGINT  NOT NULL DEFAULT 0,
    instructions_late      BIGINT  NOT NULL DEFAULT 0,
    instructions_overdue   BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, day, body)
);

-- Receptions by district, receiving body and day (reg 6.5); `body` is '' when the event
-- did not name it.
CREATE TABLE reception_activity (
    grain     CHAR(1) NOT NULL,
    day       DATE    NOT NULL,
    district  TEXT    NOT NULL,
    body      TEXT    NOT NULL DEFAULT '',
    booked    BIGINT  NOT NULL DEFAULT 0,
    cancelled BIGINT  NOT NULL DEFAULT 0,
    held      BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, day, district, body)
);

-- Instructions (reg 9) as the events tell them.
CREATE TABLE instructions (
    instruction_id TEXT PRIMARY KEY,
    number         TEXT        NOT NULL DEFAULT '',
    issuer         TEXT        NOT NULL DEFAULT '',
    status         TEXT        NOT NULL DEFAULT '',
    executors      TEXT[]      NOT NULL DEFAULT '{}',
    appeal_ids     TEXT[]      NOT NULL DEFAULT '{}',
    due_date       DATE,
    issued_at      TIMESTAMPTZ,
    completed_at   TIMESTAMPTZ,
    completed_on_time BOOLEAN,
    overdue        BOOLEAN     NOT NULL DEFAULT false
);
CREATE INDEX instructions_by_issue ON instructions (issued_at);

-- Receptions (bookings) as the events tell them.
CREATE TABLE receptions (
    key         TEXT PRIMARY KEY,
    official_id TEXT        NOT NULL DEFAULT '',
    format      TEXT        NOT NULL DEFAULT '',
    status      TEXT        NOT NULL DEFAULT '',
    district    TEXT        NOT NULL DEFAULT '',
    body        TEXT        NOT NULL DEFAULT '',
    starts_at   TIMESTAMPTZ,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- Spikes detected (reg 8.3), one per category, district and window; kept across rebuilds
-- because each was published once.
CREATE TABLE spikes (
    spike_id      TEXT PRIMARY KEY,
    category      TEXT             NOT NULL,
    district      TEXT             NOT NULL,
    window_start  DATE             NOT NULL,
    window_end    DATE             NOT NULL,
    count         BIGINT           NOT NULL,
    baseline      DOUBLE PRECISION NOT NULL,
    ratio         DOUBLE PRECISION NOT NULL,
    registration_numbers TEXT[]    NOT NULL DEFAULT '{}',
    detected_at   TIMESTAMPTZ      NOT NULL
);
CREATE INDEX spikes_by_window ON spikes (window_end);
