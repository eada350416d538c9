-- The MinHash signature packed as 4 big-endian bytes per value (storage.rs, pack_signature):
-- one 256-byte value, where the BIGINT[] was 536 bytes sent and decoded element by element.
-- Near-duplicate candidates bring it for every earlier appeal they read, and that query was
-- a third of Postgres's statement time with the pipeline flat out.
ALTER TABLE appeals ADD COLUMN signature_packed BYTEA;
UPDATE appeals SET signature_packed = coalesce(
    (SELECT string_agg(substring(int8send(v) FROM 5 FOR 4), ''::bytea ORDER BY n)
     FROM unnest(signature) WITH ORDINALITY AS s(v, n)),
    ''::bytea);
-- Drops appeals_duplicate_candidates with it (the index includes the column).
ALTER TABLE appeals DROP COLUMN signature;
ALTER TABLE appeals RENAME COLUMN signature_packed TO signature;
ALTER TABLE appeals ALTER COLUMN signature SET NOT NULL;
CREATE INDEX appeals_duplicate_candidates
    ON appeals (district, (split_part(category, '.', 1)), registered_at)
    INCLUDE (appeal_id, applicant_ref, registration_number, category, signature);
