-- Personal data at rest (Law "On personal data and their protection"). The applicant,
-- co-signatories and the signer's name are kept sealed (AES-256-GCM, bound to the appeal,
-- crates/platform/src/personal_data.rs) in `personal_data`, and the signature blob in
-- `signature`, both under the key named in `sealing_key_id`; the IIN/BIN stays searchable
-- only as its keyed pseudonym `applicant_ref`. Rows written before this migration are
-- sealed by intake at start (sealing_key_id IS NULL), and the plain columns emptied.
ALTER TABLE appeals
    ADD COLUMN personal_data           BYTEA,
    ADD COLUMN sealing_key_id          TEXT,
    -- Set when the retention period erased the personal data (settings intake.retention).
    ADD COLUMN personal_data_erased_at TIMESTAMPTZ;
ALTER TABLE appeals ALTER COLUMN co_signatories DROP NOT NULL;

ALTER TABLE consultations ADD COLUMN personal_data_erased_at TIMESTAMPTZ;
CREATE INDEX consultations_to_erase ON consultations (given_at) WHERE personal_data_erased_at IS NULL;
