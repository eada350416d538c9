-- Instructions given on appeals and their control (reg 9.1 – 9.7, 8.4): numbering,
-- executors, deadline, progress reports, on-site checks, conclusions, disciplinary
-- proposals, history and the overdue escalation mark.

-- Gap-free numbers per year: the counter row is taken in the issuing transaction.
CREATE TABLE instruction_counters (
    year INTEGER PRIMARY KEY,
    last BIGINT  NOT NULL
);

CREATE TABLE instructions (
    id                 UUID PRIMARY KEY,
    number             TEXT        NOT NULL UNIQUE,
    year               INTEGER     NOT NULL,
    sequence           BIGINT      NOT NULL,
    issuer             TEXT        NOT NULL,
    issuer_official    TEXT        NOT NULL DEFAULT '',
    issuer_reference   TEXT        NOT NULL DEFAULT '',
    title              TEXT        NOT NULL,
    text               TEXT        NOT NULL,
    lead_executor      TEXT        NOT NULL,
    co_executors       TEXT[]      NOT NULL DEFAULT '{}',
    appeal_ids         UUID[]      NOT NULL,
    status             TEXT        NOT NULL CHECK (status IN ('issued', 'in_progress', 'completed')),
    issued_at          TIMESTAMPTZ NOT NULL,
    issued_on          DATE        NOT NULL,
    due_date           DATE        NOT NULL,
    working_days       INTEGER,
    completed_at       TIMESTAMPTZ,
    completed_on       DATE,
    completion_note    TEXT        NOT NULL DEFAULT '',
    source             TEXT        NOT NULL DEFAULT '',
    created_by         TEXT        NOT NULL,
    request_id         TEXT UNIQUE,
    request_hash       TEXT,
    -- The due date the instruction was escalated as overdue for: one escalation per
    -- overdue state, set in the same transaction as the `instruction.overdue` outbox row.
    escalated_for      DATE,
    escalated_at       TIMESTAMPTZ,
    updated_at         TIMESTAMPTZ NOT NULL,
    UNIQUE (year, sequence)
);

CREATE INDEX instructions_issued ON instructions (issued_at DESC, id DESC);
CREATE INDEX instructions_open_due ON instructions (due_date) WHERE status <> 'completed';
CREATE INDEX instructions_lead ON instructions (lead_executor);
CREATE INDEX instructions_co ON instructions USING GIN (co_executors);
CREATE INDEX instructions_appeals ON instructions USING GIN (appeal_ids);

CREATE TABLE instruction_progress_reports (
    id             UUID PRIMARY KEY,
    instruction_id UUID        NOT NULL REFERENCES instructions (id),
    body           TEXT        NOT NULL,
    text           TEXT        NOT NULL,
    reported_by    TEXT        NOT NULL,
    reported_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX instruction_progress_reports_of ON instruction_progress_reports (instruction_id, reported_at);

CREATE TABLE instruction_checks (
    id             UUID PRIMARY KEY,
    instruction_id UUID        NOT NULL REFERENCES instructions (id),
    status         TEXT        NOT NULL CHECK (status IN ('planned', 'done', 'cancelled')),
    planned_on     DATE        NOT NULL,
    place          TEXT        NOT NULL,
    purpose        TEXT        NOT NULL,
    planned_by     TEXT        NOT NULL,
    planned_at     TIMESTAMPTZ NOT NULL,
    done_on        DATE,
    findings       TEXT        NOT NULL DEFAULT '',
    recorded_by    TEXT        NOT NULL DEFAULT '',
    recorded_at    TIMESTAMPTZ
);
CREATE INDEX instruction_checks_of ON instruction_checks (instruction_id, planned_at);

CREATE TABLE instruction_conclusions (
    id             UUID PRIMARY KEY,
    instruction_id UUID        NOT NULL REFERENCES instructions (id),
    outcome        TEXT        NOT NULL,
    text           TEXT        NOT NULL,
    author         TEXT        NOT NULL,
    concluded_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX instruction_conclusions_of ON instruction_conclusions (instruction_id, concluded_at);

CREATE TABLE instruction_discipline (
    id                UUID PRIMARY KEY,
    instruction_id    UUID        NOT NULL REFERENCES instructions (id),
    body              TEXT        NOT NULL,
    official_position TEXT        NOT NULL,
    -- The official's name: personal data, never logged.
    official_name     TEXT        NOT NULL DEFAULT '',
    grounds           TEXT        NOT NULL,
    proposed_measure  TEXT        NOT NULL,
    proposed_on       DATE        NOT NULL,
    proposed_by       TEXT        NOT NULL,
    proposed_at       TIMESTAMPTZ NOT NULL,
    status            TEXT        NOT NULL CHECK (status IN ('proposed', 'accepted', 'rejected', 'applied')),
    decided_on        DATE,
    decision_note     TEXT        NOT NULL DEFAULT '',
    decided_by        TEXT        NOT NULL DEFAULT '',
    applied_measure   TEXT        NOT NULL DEFAULT '',
    applied_on        DATE,
    order_reference   TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX instruction_discipline_of ON instruction_discipline (instruction_id, proposed_at);

-- Who did what and when, in order.
CREATE TABLE instruction_history (
    id             BIGSERIAL PRIMARY KEY,
    instruction_id UUID        NOT NULL REFERENCES instructions (id),
    at             TIMESTAMPTZ NOT NULL,
    actor          TEXT        NOT NULL,
    action         TEXT        NOT NULL,
    note           TEXT        NOT NULL DEFAULT ''
);
CREATE INDEX instruction_history_of ON instruction_history (instruction_id, id);
