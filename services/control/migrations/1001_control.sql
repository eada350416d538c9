-- Control: appeals as control knows them, assignment history, answers and reviews, letters,
-- timeline, the durable scheduler, the working-day calendar and the deadline policy.

-- One row per appeal, filled from `appeal.registered`, `appeal.routed`, `appeal.redirected`
-- (whichever arrives first creates it).
CREATE TABLE appeals (
    appeal_id            UUID PRIMARY KEY,
    registration_number  TEXT        NOT NULL DEFAULT '',
    kind                 TEXT        NOT NULL DEFAULT '',
    language             TEXT        NOT NULL DEFAULT 'ru',
    channel              TEXT        NOT NULL DEFAULT '',
    office               TEXT        NOT NULL DEFAULT '',
    received_at          TIMESTAMPTZ,
    registered_at        TIMESTAMPTZ,
    -- Kazakhstan date the answer period runs from (reg 5.3).
    registered_on        DATE,
    external_source      TEXT,
    external_id          TEXT,
    -- registered | assigned | answer_submitted | returned_for_rework | awaiting_sign_off |
    -- closed | redirected
    status               TEXT        NOT NULL DEFAULT 'registered',
    lead_body            TEXT,
    co_bodies            TEXT[]      NOT NULL DEFAULT '{}',
    category             TEXT        NOT NULL DEFAULT '',
    routed_at            TIMESTAMPTZ,
    assigned_at          TIMESTAMPTZ,
    redirected_at        TIMESTAMPTZ,
    redirected_to        TEXT,
    working_days         INTEGER,
    initial_due_date     DATE,
    due_date             DATE,
    extensions           INTEGER     NOT NULL DEFAULT 0,
    extended_at          TIMESTAMPTZ,
    akim_control         BOOLEAN     NOT NULL DEFAULT false,
    overdue              BOOLEAN     NOT NULL DEFAULT false,
    rework_count         INTEGER     NOT NULL DEFAULT 0,
    first_answered_at    TIMESTAMPTZ,
    closed_at            TIMESTAMPTZ,
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX appeals_open_due ON appeals (due_date) WHERE closed_at IS NULL AND lead_body IS NOT NULL;
CREATE INDEX appeals_lead ON appeals (lead_body, due_date);
CREATE INDEX appeals_registration_number ON appeals (registration_number);
CREATE INDEX appeals_registered_on ON appeals (registered_on);

-- Assignment history: a re-routing ends the current rows and adds new ones.
CREATE TABLE assignments (
    id           BIGSERIAL PRIMARY KEY,
    appeal_id    UUID        NOT NULL REFERENCES appeals (appeal_id),
    body         TEXT        NOT NULL,
    lead         BOOLEAN     NOT NULL,
    decided_by   TEXT        NOT NULL DEFAULT '',
    assigned_at  TIMESTAMPTZ NOT NULL,
    ended_at     TIMESTAMPTZ
);
CREATE INDEX assignments_current ON assignments (appeal_id) WHERE ended_at IS NULL;
CREATE INDEX assignments_body ON assignments (body) WHERE ended_at IS NULL;

CREATE TABLE answers (
    id              UUID PRIMARY KEY,
    appeal_id       UUID        NOT NULL REFERENCES appeals (appeal_id),
    version         INTEGER     NOT NULL,
    body            TEXT        NOT NULL,
    author          TEXT        NOT NULL,
    text            TEXT        NOT NULL,
    measures_taken  TEXT        NOT NULL DEFAULT '',
    submitted_at    TIMESTAMPTZ NOT NULL,
    -- pending | accepted | returned | signed_off
    review          TEXT        NOT NULL DEFAULT 'pending',
    remarks         TEXT        NOT NULL DEFAULT '',
    reviewed_by     TEXT,
    reviewed_at     TIMESTAMPTZ,
    signed_off_by   TEXT,
    signed_off_at   TIMESTAMPTZ,
    UNIQUE (appeal_id, version)
);

CREATE TABLE answer_attachments (
    answer_id   UUID   NOT NULL REFERENCES answers (id),
    position    INTEGER NOT NULL,
    name        TEXT   NOT NULL,
    media_type  TEXT   NOT NULL,
    size_bytes  BIGINT NOT NULL,
    sha256      TEXT   NOT NULL,
    content     BYTEA  NOT NULL,
    PRIMARY KEY (answer_id, position)
);

-- Who did what and when, per appeal (reg 5.6).
CREATE TABLE timeline (
    id         BIGSERIAL PRIMARY KEY,
    appeal_id  UUID        NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    actor      TEXT        NOT NULL,
    action     TEXT        NOT NULL,
    note       TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX timeline_appeal ON timeline (appeal_id, at, id);

-- Letters to the applicant (coupon, redirection, extension, answer).
CREATE TABLE letters (
    id           UUID PRIMARY KEY,
    appeal_id    UUID        NOT NULL,
    kind         TEXT        NOT NULL,
    language     TEXT        NOT NULL,
    subject      TEXT        NOT NULL,
    body         TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    due_by       DATE,
    -- stored | sent | failed | no_address
    delivery     TEXT        NOT NULL DEFAULT 'stored',
    attempts     INTEGER     NOT NULL DEFAULT 0,
    next_try_at  TIMESTAMPTZ,
    last_error   TEXT,
    sent_at      TIMESTAMPTZ
);
CREATE INDEX letters_appeal ON letters (appeal_id, created_at);
CREATE INDEX letters_to_send ON letters (next_try_at) WHERE delivery = 'stored';

-- The durable scheduler: reminders and overdue escalation as rows. A worker claims due rows
-- with FOR UPDATE SKIP LOCKED and applies the effect in the same transaction.
CREATE TABLE jobs (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT        NOT NULL,          -- reminder | overdue
    subject     UUID        NOT NULL,          -- appeal id
    fire_at     TIMESTAMPTZ NOT NULL,
    payload     JSONB       NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    done_at     TIMESTAMPTZ,
    -- fired | cancelled
    outcome     TEXT,
    fired_by    TEXT
);
CREATE INDEX jobs_due ON jobs (fire_at) WHERE done_at IS NULL;
CREATE INDEX jobs_subject ON jobs (subject) WHERE done_at IS NULL;

-- Working-day calendar, seeded from the shipped data on first start.
CREATE TABLE calendar_years (
    year INTEGER PRIMARY KEY
);
CREATE TABLE calendar_holidays (
    date        DATE PRIMARY KEY,
    name_kk     TEXT    NOT NULL,
    name_ru     TEXT    NOT NULL,
    name_en     TEXT    NOT NULL,
    religious   BOOLEAN NOT NULL,
    provisional BOOLEAN NOT NULL DEFAULT false,
    note        TEXT
);
CREATE TABLE calendar_transfers (
    day_off      DATE PRIMARY KEY,
    working_day  DATE NOT NULL UNIQUE,
    decree       TEXT NOT NULL
);
-- Bumped on every edit so replicas reload.
CREATE TABLE calendar_version (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    version  BIGINT  NOT NULL
);
INSERT INTO calendar_version (id, version) VALUES (1, 0);

-- Audit trail of calendar and policy edits.
CREATE TABLE change_log (
    id      BIGSERIAL PRIMARY KEY,
    at      TIMESTAMPTZ NOT NULL,
    actor   TEXT        NOT NULL,
    target  TEXT        NOT NULL,  -- calendar | policy
    action  TEXT        NOT NULL,
    detail  TEXT        NOT NULL,
    reason  TEXT        NOT NULL DEFAULT ''
);

-- Deadline policy as data; absent until first start writes the settings' defaults.
CREATE TABLE policy (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    doc         JSONB       NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    updated_by  TEXT        NOT NULL
);
