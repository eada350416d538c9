-- Routing (reg 5.2): reference data (seeded from data/*.toml, editable over gRPC, every edit
-- audited), the appeals routing has seen (no text, no personal data: only a MinHash
-- signature for near-duplicates), every routing decision with its history, and
-- near-duplicate links.

-- Reference data. `data` is the entity as JSON (see domain::reference); `seeded` stays
-- true while the row is as the seed files made it: the loader updates such rows on a new
-- seed, and leaves rows edited over gRPC alone.
CREATE TABLE categories (
    code       TEXT PRIMARY KEY,
    data       JSONB       NOT NULL,
    active     BOOLEAN     NOT NULL DEFAULT true,
    seeded     BOOLEAN     NOT NULL DEFAULT true,
    position   INTEGER     NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by TEXT        NOT NULL DEFAULT 'seed'
);

CREATE TABLE districts (
    code       TEXT PRIMARY KEY,
    data       JSONB       NOT NULL,
    position   INTEGER     NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE bodies (
    code       TEXT PRIMARY KEY,
    data       JSONB       NOT NULL,
    active     BOOLEAN     NOT NULL DEFAULT true,
    seeded     BOOLEAN     NOT NULL DEFAULT true,
    position   INTEGER     NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by TEXT        NOT NULL DEFAULT 'seed'
);

CREATE TABLE rules (
    id         TEXT PRIMARY KEY,
    data       JSONB       NOT NULL,
    priority   INTEGER     NOT NULL,
    active     BOOLEAN     NOT NULL DEFAULT true,
    seeded     BOOLEAN     NOT NULL DEFAULT true,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_by TEXT        NOT NULL DEFAULT 'seed'
);

-- Bumped on every change of reference data, so each replica reloads its cached copy.
CREATE TABLE reference_version (
    id      BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    version BIGINT  NOT NULL,
    region_kato TEXT
);
INSERT INTO reference_version (id, version) VALUES (true, 0);

-- Audit log of reference edits: who, when, why, before and after.
CREATE TABLE reference_changes (
    id      BIGSERIAL PRIMARY KEY,
    entity  TEXT        NOT NULL,
    code    TEXT        NOT NULL,
    action  TEXT        NOT NULL,
    actor   TEXT        NOT NULL,
    reason  TEXT        NOT NULL DEFAULT '',
    at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    before  JSONB,
    after   JSONB
);
CREATE INDEX reference_changes_entity ON reference_changes (entity, code, id DESC);

-- Appeals routing has seen, with what it needs to decide, link duplicates and answer
-- GetRouting by registration number.
CREATE TABLE appeals (
    appeal_id           UUID PRIMARY KEY,
    registration_number TEXT        NOT NULL,
    registered_at       TIMESTAMPTZ NOT NULL,
    kind                TEXT        NOT NULL,
    channel             TEXT        NOT NULL,
    language            TEXT        NOT NULL,
    applicant_type      TEXT        NOT NULL,
    applicant_ref       TEXT        NOT NULL DEFAULT '',
    corruption_report   BOOLEAN     NOT NULL DEFAULT false,
    -- Resolved district code; the locality as received is kept in `locality`.
    district            TEXT,
    locality            JSONB       NOT NULL DEFAULT '{}',
    external_source     TEXT        NOT NULL DEFAULT '',
    external_id         TEXT        NOT NULL DEFAULT '',
    -- MinHash of the text (domain::duplicates); never the text itself.
    signature           BIGINT[]    NOT NULL,
    -- Category and outcome of the current decision.
    category            TEXT,
    outcome             TEXT        NOT NULL,
    current_sequence    INTEGER     NOT NULL,
    received_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX appeals_registration_number ON appeals (registration_number);
CREATE INDEX appeals_applicant ON appeals (applicant_ref, registered_at) WHERE applicant_ref <> '';
CREATE INDEX appeals_locality ON appeals (district, registered_at);
CREATE INDEX appeals_manual ON appeals (registered_at, appeal_id) WHERE outcome = 'needs_manual_routing';

-- Every decision, automatic or a registrar's; the appeal's current one has the highest
-- sequence. Nothing here is ever updated or deleted.
CREATE TABLE decisions (
    appeal_id          UUID        NOT NULL REFERENCES appeals (appeal_id),
    sequence           INTEGER     NOT NULL,
    outcome            TEXT        NOT NULL,
    category           TEXT,
    confidence         DOUBLE PRECISION NOT NULL,
    lead_executor      TEXT        NOT NULL DEFAULT '',
    co_executors       TEXT[]      NOT NULL DEFAULT '{}',
    decided_by         TEXT        NOT NULL DEFAULT '',
    classified_by      TEXT        NOT NULL DEFAULT '',
    decided_by_user    TEXT        NOT NULL DEFAULT '',
    reason_code        TEXT        NOT NULL DEFAULT '',
    reason             TEXT        NOT NULL DEFAULT '',
    to_body            TEXT        NOT NULL DEFAULT '',
    explanation_kk     TEXT        NOT NULL DEFAULT '',
    explanation_ru     TEXT        NOT NULL DEFAULT '',
    legal_basis        TEXT        NOT NULL DEFAULT '',
    notify_by          DATE,
    event_id           UUID        NOT NULL,
    decided_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (appeal_id, sequence)
);

-- Near-duplicate links found when an appeal was routed (flag for the registrar).
CREATE TABLE duplicates (
    appeal_id                        UUID        NOT NULL REFERENCES appeals (appeal_id),
    duplicate_of                     UUID        NOT NULL,
    duplicate_of_registration_number TEXT        NOT NULL,
    similarity                       DOUBLE PRECISION NOT NULL,
    basis                            TEXT        NOT NULL,
    found_at                         TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (appeal_id, duplicate_of)
);
