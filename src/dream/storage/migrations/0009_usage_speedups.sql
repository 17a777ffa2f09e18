-- What the read side needs to answer from a few rows at 2,000 hosts × 30 days (p95 < 100 ms).

-- When a session stops being in use: last_seen + cadence_s (a generated column cannot add an
-- interval to a timestamptz, not an immutable expression), so "sessions overlapping [a, b)" is
-- first_seen < b AND ended > a with an index on either bound.
-- Set by a trigger, so every writer of sessions (the worker, reprocess, fixtures) keeps it true.
ALTER TABLE sessions ADD COLUMN ended timestamptz;
UPDATE sessions SET ended = last_seen + cadence_s * interval '1 second';
ALTER TABLE sessions ALTER COLUMN ended SET NOT NULL,
    ADD CONSTRAINT sessions_ended_check CHECK (ended > last_seen);

CREATE FUNCTION sessions_set_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.ended := NEW.last_seen + NEW.cadence_s * interval '1 second';
    RETURN NEW;
END
$$;
CREATE TRIGGER sessions_ended BEFORE INSERT OR UPDATE OF last_seen, cadence_s ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_set_ended();
CREATE INDEX sessions_app_ended_idx ON sessions (app, ended);
CREATE INDEX sessions_ended_idx ON sessions (ended);

-- usage_hours_daily summed over users and hosts (as usage_daily_apps is usage_daily's): hours
-- and launches per app for questions that filter on neither a user nor a host. Kept by the
-- writer with the same contributions, in the same transaction.
CREATE TABLE usage_hours_daily_apps (
    bucket      timestamptz      NOT NULL,  -- the UTC day
    app         text COLLATE "C" NOT NULL,
    os          text COLLATE "C" NOT NULL,
    faculty     text COLLATE "C" NOT NULL,
    seconds     double precision NOT NULL,
    launches    integer          NOT NULL,
    u_seconds   double precision NOT NULL,
    u_launches  integer          NOT NULL,
    PRIMARY KEY (bucket, app, os, faculty)
);
INSERT INTO usage_hours_daily_apps
SELECT bucket, app, os, faculty, sum(seconds), sum(launches), sum(u_seconds), sum(u_launches)
FROM usage_hours_daily
GROUP BY 1, 2, 3, 4;

-- Coverage, per host and UTC day: how many snapshots it stored, when the first and last were
-- collected, and the sampling intervals it declared. "Hosts reporting in the window" and "the
-- median cadence" read these (a few rows per host and day) instead of every snapshot. Kept by
-- the writer for the snapshots its transaction made final (stored or failed: both are a host
-- reporting).
CREATE TABLE host_days (
    bucket        timestamptz      NOT NULL,  -- the UTC day
    host          text COLLATE "C" NOT NULL,
    os            text COLLATE "C" NOT NULL,
    faculty       text COLLATE "C" NOT NULL,
    snapshots     integer          NOT NULL,
    first_at      timestamptz      NOT NULL,
    last_at       timestamptz      NOT NULL,
    declared_sum  double precision NOT NULL,  -- sum of interval_s over snapshots declaring one
    declared_n    integer          NOT NULL,
    PRIMARY KEY (bucket, host, os, faculty)
);
INSERT INTO host_days
SELECT date_trunc('day', collected_at, 'UTC'), host, os, faculty, count(*), min(collected_at),
       max(collected_at), coalesce(sum(interval_s), 0), count(interval_s)
FROM snapshots
WHERE status <> 'pending'
GROUP BY 1, 2, 3, 4;
