-- Erasure, opt-out and differential privacy (docs/security.md).
--
-- erasures: one row per erasure of a user (`dream erase`, DELETE /v1/users/{user}). The rows
-- of the database go in one transaction (state 'blobs' once it commits, with what was removed
-- and the raw-output objects still to delete or rewrite); the blob store is cleaned after it,
-- object by object, each one ticked off `blobs` as it goes, so a run cut short resumes where it
-- stopped (state 'done' at the end). user_name is the pseudonym, never the name.
CREATE TABLE erasures (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_name     text        NOT NULL,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    state         text        NOT NULL DEFAULT 'blobs' CHECK (state IN ('blobs', 'done')),
    removed       jsonb       NOT NULL DEFAULT '{}',
    blobs         text[]      NOT NULL DEFAULT '{}',
    finished_at   timestamptz
);
CREATE INDEX erasures_open ON erasures (id) WHERE state <> 'done';

-- The snapshots an erasure removed: GET /v1/snapshots/{id} answers 410 Gone for them.
CREATE TABLE erased_snapshots (
    snapshot_id  uuid   PRIMARY KEY,
    erasure_id   bigint NOT NULL REFERENCES erasures (id)
);

-- Opt-outs: ingest keeps nothing of these users (pseudonyms) or hosts from then on.
CREATE TABLE optouts (
    kind      text        NOT NULL CHECK (kind IN ('user', 'host')),
    value     text        NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, value)
);

-- Differential privacy, opt in per key: each answer spends dp_epsilon of dp_budget per
-- calendar month (UTC); dp_spent holds what each key spent in each month.
ALTER TABLE api_keys
    ADD COLUMN dp_epsilon double precision CHECK (dp_epsilon > 0),
    ADD COLUMN dp_budget  double precision CHECK (dp_budget > 0);
CREATE TABLE dp_spent (
    key_id  text             NOT NULL,
    period  date             NOT NULL,  -- the month's first day
    spent   double precision NOT NULL,
    PRIMARY KEY (key_id, period)
);
