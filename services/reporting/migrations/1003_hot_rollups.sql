-- The roll-up rows are updated for every appeal. With the counters in the keys' INCLUDE
-- lists (1002) no update could be HOT: each one added an index entry and left a dead
-- version only vacuum removed, and every later upsert walked them (measured: 73 000 dead
-- versions of 146 rows a few minutes into a load, Postgres spending most of a core on
-- reporting). Plain keys and free room on each page let Postgres update in place and
-- prune as it goes, vacuum or not; the reports read these small tables from the heap.
ALTER TABLE counts_by_dim
    DROP CONSTRAINT counts_by_dim_pkey,
    ADD CONSTRAINT counts_by_dim_pkey PRIMARY KEY (dim, grain, day, key),
    SET (fillfactor = 50);

ALTER TABLE counts_by_district_category
    DROP CONSTRAINT counts_by_district_category_pkey,
    ADD CONSTRAINT counts_by_district_category_pkey PRIMARY KEY (grain, day, district, category),
    SET (fillfactor = 50);
DROP INDEX counts_by_district_category_cat;
CREATE INDEX counts_by_district_category_cat ON counts_by_district_category (grain, category, district, day);

ALTER TABLE body_activity
    DROP CONSTRAINT body_activity_pkey,
    ADD CONSTRAINT body_activity_pkey PRIMARY KEY (grain, day, body),
    SET (fillfactor = 50);

ALTER TABLE reception_activity
    DROP CONSTRAINT reception_activity_pkey,
    ADD CONSTRAINT reception_activity_pkey PRIMARY KEY (grain, day, district, body),
    SET (fillfactor = 50);
