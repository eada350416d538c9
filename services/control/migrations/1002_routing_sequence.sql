-- Routing numbers its decisions on an appeal (1 = automatic, higher = a registrar's
-- override); a decision older than the one applied is not applied again.
ALTER TABLE appeals ADD COLUMN routing_sequence INTEGER NOT NULL DEFAULT 0;
