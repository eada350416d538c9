-- Near-duplicate candidates of a district and top-level category read from the index
-- alone (storage.rs, duplicate_candidates). Through the heap, each candidate cost a page of
-- its own (a month's appeals of all districts interleave there): 0.95 ms for 123
-- candidates, 0.15 ms from this index.
CREATE INDEX appeals_duplicate_candidates
    ON appeals (district, (split_part(category, '.', 1)), registered_at)
    INCLUDE (appeal_id, applicant_ref, registration_number, category, signature);
DROP INDEX appeals_district_topic;
-- An index-only scan skips the heap only for pages vacuum has marked all-visible: vacuum
-- after 500 + 1% new appeals rather than 1000 + 20%.
ALTER TABLE appeals SET (
    autovacuum_vacuum_insert_threshold = 500,
    autovacuum_vacuum_insert_scale_factor = 0.01
);
