-- Extensions of an instruction's due date (a decision of the issuer or a head).
ALTER TABLE instructions ADD COLUMN extensions INTEGER NOT NULL DEFAULT 0;
