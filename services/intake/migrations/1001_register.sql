-- The register of appeals (reg 5.7), attachments, registration counters, consultations
-- (reg 5.8) and the outcomes of submissions from other government systems (reg 8.5, 8.6).

CREATE TABLE registration_counters (
    office TEXT    NOT NULL,
    year   INTEGER NOT NULL,
    last   BIGINT  NOT NULL,
    PRIMARY KEY (office, year)
);

CREATE TABLE appeals (
    id                     UUID PRIMARY KEY,
    registration_number    TEXT        NOT NULL UNIQUE,
    office                 TEXT        NOT NULL,
    reg_year               INTEGER     NOT NULL,
    reg_seq                BIGINT      NOT NULL,
    status                 TEXT        NOT NULL,
    decline_reasons        JSONB       NOT NULL DEFAULT '[]',
    kind                   TEXT        NOT NULL,
    channel                TEXT        NOT NULL,
    source                 TEXT,
    external_id            TEXT,
    language               TEXT        NOT NULL,
    applicant_type         TEXT        NOT NULL,
    -- Keyed hash of the IIN/BIN: links repeats without a readable number.
    applicant_ref          TEXT,
    -- Personal data of the applicant and co-signatories.
    applicant              JSONB,
    co_signatories         JSONB       NOT NULL DEFAULT '[]',
    anonymous              BOOLEAN     NOT NULL,
    corruption_report      BOOLEAN     NOT NULL,
    collective             BOOLEAN     NOT NULL,
    repeated_of            UUID REFERENCES appeals (id),
    addressee              TEXT        NOT NULL DEFAULT '',
    kato                   TEXT        NOT NULL DEFAULT '',
    region                 TEXT        NOT NULL DEFAULT '',
    district               TEXT        NOT NULL DEFAULT '',
    rural_district         TEXT        NOT NULL DEFAULT '',
    lat                    DOUBLE PRECISION,
    lon                    DOUBLE PRECISION,
    subject                TEXT        NOT NULL DEFAULT '',
    text                   TEXT        NOT NULL,
    signature              BYTEA,
    signature_status       TEXT        NOT NULL,
    signature_reason       TEXT        NOT NULL DEFAULT '',
    signer_subject         TEXT        NOT NULL DEFAULT '',
    signer_serial          TEXT        NOT NULL DEFAULT '',
    signature_verified_at  TIMESTAMPTZ,
    received_at            TIMESTAMPTZ NOT NULL,
    registered_at          TIMESTAMPTZ NOT NULL,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    officer_name           TEXT        NOT NULL,
    officer_position       TEXT        NOT NULL,
    request_id             TEXT UNIQUE,
    request_hash           TEXT,
    UNIQUE (office, reg_year, reg_seq),
    UNIQUE (source, external_id)
);

CREATE INDEX appeals_registered ON appeals (registered_at, id);
CREATE INDEX appeals_district ON appeals (district, registered_at);
CREATE INDEX appeals_applicant ON appeals (applicant_ref, registered_at) WHERE applicant_ref IS NOT NULL;

CREATE TABLE attachments (
    id         UUID PRIMARY KEY,
    appeal_id  UUID    NOT NULL REFERENCES appeals (id),
    position   INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    media_type TEXT    NOT NULL,
    sha256     TEXT    NOT NULL,
    size_bytes BIGINT  NOT NULL,
    content    BYTEA   NOT NULL,
    UNIQUE (appeal_id, position)
);

CREATE TABLE consultations (
    id               UUID PRIMARY KEY,
    request_id       TEXT UNIQUE,
    channel          TEXT        NOT NULL,
    person_name      TEXT        NOT NULL DEFAULT '',
    person_phone     TEXT        NOT NULL DEFAULT '',
    language         TEXT        NOT NULL,
    topic            TEXT        NOT NULL,
    question         TEXT        NOT NULL,
    answer           TEXT        NOT NULL,
    officer_name     TEXT        NOT NULL,
    officer_position TEXT        NOT NULL,
    given_at         TIMESTAMPTZ NOT NULL,
    duration_minutes INTEGER     NOT NULL DEFAULT 0,
    district         TEXT        NOT NULL DEFAULT ''
);

CREATE INDEX consultations_given ON consultations (given_at, id);

-- One row per (source, external_id): the answer a repeat gets again.
CREATE TABLE external_submissions (
    source           TEXT        NOT NULL,
    external_id      TEXT        NOT NULL,
    appeal_id        UUID REFERENCES appeals (id),
    event_id         UUID        NOT NULL,
    event_type       TEXT        NOT NULL,
    event_payload    BYTEA       NOT NULL,
    reply_type       TEXT        NOT NULL,
    reply_payload    BYTEA       NOT NULL,
    first_seen_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    deliveries       INTEGER     NOT NULL DEFAULT 1,
    PRIMARY KEY (source, external_id)
);
