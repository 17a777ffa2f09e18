-- Privacy: the `steward` role, and the audit trail of analytics and row requests.
--
-- Roles: `query` now reads aggregates only (under the k-anonymity floor, DREAM_MIN_GROUP_USERS);
-- rows, per-user and per-host questions and whole answers need the new `steward`. Existing keys
-- keep their role: an old `query` key is a `query` key (the narrower reading: a study that needs
-- rows is given a steward key on purpose), `ingest` and `admin` are unchanged.
ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
    CHECK (role IN ('ingest', 'query', 'steward', 'admin'));

-- Who asked what: one row per analytics, export or row request (web/audit.py writes them in
-- batches, off the request's path; kept DREAM_AUDIT_RETENTION_DAYS). `params` holds the query
-- string with `user` pseudonymized as the question was asked (no user name in clear).
CREATE TABLE audit_log (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL,
    key_id      text        NOT NULL,
    key_name    text        NOT NULL,
    role        text        NOT NULL,
    method      text        NOT NULL,
    path        text        NOT NULL,
    params      jsonb       NOT NULL DEFAULT '{}',
    status      smallint    NOT NULL,
    rows        integer,    -- rows answered (null: no rows, e.g. a refusal or a raw output)
    suppressed  integer,    -- rows withheld by the floor (null: none was applied)
    duration_ms real        NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_key_at ON audit_log (key_id, at, id);
