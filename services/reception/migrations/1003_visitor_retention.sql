-- Retention (reception.personal_data_days): once the period after a reception (or after
-- joining the waiting list) is over, the visitor's sealed data, pseudonym and any plain
-- columns are erased; the booking itself (official, time, issue, outcome) is kept.
ALTER TABLE bookings ADD COLUMN personal_data_erased_at TIMESTAMPTZ;
ALTER TABLE waiting_list ADD COLUMN personal_data_erased_at TIMESTAMPTZ;

ALTER TABLE bookings DROP CONSTRAINT bookings_visitor_sealed,
    ADD CONSTRAINT bookings_visitor_sealed CHECK (
        personal_data_erased_at IS NOT NULL
        OR (visitor_sealed IS NOT NULL AND sealing_key_id IS NOT NULL AND visitor_ref IS NOT NULL)
        OR visitor_iin IS NOT NULL);
ALTER TABLE waiting_list DROP CONSTRAINT waiting_list_visitor_sealed,
    ADD CONSTRAINT waiting_list_visitor_sealed CHECK (
        personal_data_erased_at IS NOT NULL
        OR (visitor_sealed IS NOT NULL AND sealing_key_id IS NOT NULL AND visitor_ref IS NOT NULL)
        OR visitor_iin IS NOT NULL);

DROP INDEX bookings_unsealed;
DROP INDEX waiting_list_unsealed;
CREATE INDEX bookings_unsealed ON bookings (id)
    WHERE visitor_sealed IS NULL AND personal_data_erased_at IS NULL;
CREATE INDEX waiting_list_unsealed ON waiting_list (id)
    WHERE visitor_sealed IS NULL AND personal_data_erased_at IS NULL;
CREATE INDEX bookings_to_erase ON bookings (starts_at) WHERE personal_data_erased_at IS NULL;
CREATE INDEX waiting_list_to_erase ON waiting_list (joined_at) WHERE personal_data_erased_at IS NULL;

-- A notification's phone is its booking's visitor's (sealed there), read through the
-- booking: the copy each notification kept in plain text goes.
UPDATE notifications SET phone = '';
