-- A consulted person's name and phone, sealed like an applicant's (1002): `person_sealed`
-- under `sealing_key_id`; the plain columns stay empty for new rows, and rows written
-- before are sealed by intake at start.
ALTER TABLE consultations
    ADD COLUMN person_sealed  BYTEA,
    ADD COLUMN sealing_key_id TEXT;
