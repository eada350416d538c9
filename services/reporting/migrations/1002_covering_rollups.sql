-- Covering keys for the roll-ups: the reports sum the counters straight from the index
-- (index-only scans) instead of visiting one heap page per roll-up row, which at ten
-- million appeals is most of a query's time. The keys stay the same, so the projection's
-- ON CONFLICT upserts are unchanged.
ALTER TABLE counts_by_dim
    DROP CONSTRAINT counts_by_dim_pkey,
    ADD CONSTRAINT counts_by_dim_pkey PRIMARY KEY (dim, grain, day, key)
        INCLUDE (appeals, repeated, collective);

ALTER TABLE counts_by_district_category
    DROP CONSTRAINT counts_by_district_category_pkey,
    ADD CONSTRAINT counts_by_district_category_pkey PRIMARY KEY (grain, day, district, category)
        INCLUDE (appeals, repeated, collective);
DROP INDEX counts_by_district_category_cat;
CREATE INDEX counts_by_district_category_cat ON counts_by_district_category (grain, category, district, day)
    INCLUDE (appeals, repeated, collective);

ALTER TABLE body_activity
    DROP CONSTRAINT body_activity_pkey,
    ADD CONSTRAINT body_activity_pkey PRIMARY KEY (grain, day, body)
        INCLUDE (assigned, answered, on_time, late, answer_days, overdue, returned,
                 instructions_issued, instructions_completed, instructions_overdue);

ALTER TABLE reception_activity
    DROP CONSTRAINT reception_activity_pkey,
    ADD CONSTRAINT reception_activity_pkey PRIMARY KEY (grain, day, district, body)
        INCLUDE (booked, cancelled, held);

-- Index-only scans need the visibility map; vacuum the often-updated roll-ups early.
ALTER TABLE counts_by_dim SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02);
ALTER TABLE counts_by_district_category SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02);
ALTER TABLE body_activity SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02);
ALTER TABLE reception_activity SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02);
