-- Personal data at rest (Law "On personal data and their protection"). A visitor's name,
-- IIN, phone and organisation are kept sealed (AES-256-GCM, bound to the row id,
-- crates/platform/src/personal_data.rs) in `visitor_sealed`, under the key named in
-- `sealing_key_id`; the IIN survives only as its keyed pseudonym `visitor_ref`. The plain
-- columns are no longer written: rows from before this migration are sealed by reception at
-- start (visitor_sealed IS NULL) and their plain columns set to NULL.
--
-- No index on visitor_ref: nothing looks a visitor up yet. A lookup by visitor (e.g. "one
-- booking per visitor per day") adds one and compares pseudonyms, never IINs.

ALTER TABLE bookings
    ADD COLUMN visitor_ref    TEXT,
    ADD COLUMN visitor_sealed BYTEA,
    ADD COLUMN sealing_key_id TEXT,
    ALTER COLUMN visitor_name DROP NOT NULL,
    ALTER COLUMN visitor_iin DROP NOT NULL,
    ALTER COLUMN visitor_phone DROP NOT NULL,
    ALTER COLUMN visitor_organisation DROP NOT NULL,
    ALTER COLUMN visitor_organisation DROP DEFAULT;

ALTER TABLE waiting_list
    ADD COLUMN visitor_ref    TEXT,
    ADD COLUMN visitor_sealed BYTEA,
    ADD COLUMN sealing_key_id TEXT,
    ALTER COLUMN visitor_name DROP NOT NULL,
    ALTER COLUMN visitor_iin DROP NOT NULL,
    ALTER COLUMN visitor_phone DROP NOT NULL,
    ALTER COLUMN visitor_organisation DROP NOT NULL,
    ALTER COLUMN visitor_organisation DROP DEFAULT;

-- Either sealed, or a row from before this migration still to be sealed.
ALTER TABLE bookings ADD CONSTRAINT bookings_visitor_sealed
    CHECK ((visitor_sealed IS NOT NULL AND sealing_key_id IS NOT NULL AND visitor_ref IS NOT NULL)
           OR visitor_iin IS NOT NULL);
ALTER TABLE waiting_list ADD CONSTRAINT waiting_list_visitor_sealed
    CHECK ((visitor_sealed IS NOT NULL AND sealing_key_id IS NOT NULL AND visitor_ref IS NOT NULL)
           OR visitor_iin IS NOT NULL);


-- Rows still plain (written before this migration, or by a replica of the earlier release
-- during a rolling update): the periodic sweep finds them without reading the table.
CREATE INDEX bookings_unsealed ON bookings (id) WHERE visitor_sealed IS NULL;
CREATE INDEX waiting_list_unsealed ON waiting_list (id) WHERE visitor_sealed IS NULL;
