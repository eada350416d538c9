-- The audit log (issue 10), in every service's own schema: who read personal data or
-- changed something, when, from where, what, and with what result. Append-only: rows are
-- only ever inserted; the triggers refuse UPDATE, DELETE and TRUNCATE to every role,
-- the service's own included.

CREATE TABLE audit_log (
    seq           BIGSERIAL   PRIMARY KEY,
    at            TIMESTAMPTZ NOT NULL,
    subject       TEXT        NOT NULL,
    role          TEXT        NOT NULL,
    body          TEXT,
    method        TEXT        NOT NULL,
    access        TEXT        NOT NULL CHECK (access IN ('read', 'change')),
    target_kind   TEXT,
    targets       TEXT[]      NOT NULL DEFAULT '{}',
    outcome       TEXT        NOT NULL,
    peer          TEXT,
    forwarded_for TEXT,
    trace_id      TEXT
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_subject ON audit_log (subject, seq);
CREATE INDEX audit_log_targets ON audit_log USING GIN (targets);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
