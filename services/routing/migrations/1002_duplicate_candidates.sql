-- Near-duplicate candidates of the same district and top-level category (storage.rs,
-- duplicate_candidates), newest first, from the index alone.
CREATE INDEX appeals_district_topic
    ON appeals (district, (split_part(category, '.', 1)), registered_at);
