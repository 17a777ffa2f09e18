-- Concurrency (users and hosts running an app at the same instant) from a maintained timeline,
-- not a sweep over every session of the app in the range: a month of a common app is ~450,000
-- sessions at 2,000 hosts, seconds to sweep. See docs/analytics.md, "What each question reads".
--
-- Three tables, non-system sessions of known apps only (what `concurrency?app=` counts by
-- default):
--   concurrency_spans: per app, UTC day, host and user, when that user ran the app on that
--     host within the day (the union of the sessions' [first_seen, ended), cut at the day).
--     Its rows are the host's: the writer holding the host's lock is their only writer.
--   concurrency_hourly: per app and UTC hour with use, the most users and hosts running at one
--     instant, and for how long (microseconds) each count of users >= 1 ran: the peak of a day
--     or week is the largest of its hours', its time-weighted percentiles come from the sum of
--     its hours' durations. Computed from concurrency_spans, a whole (app, day) at a time.
--   concurrency_dirty: the (app, day)s whose spans changed since their hours were computed.
--     Readers compute those days from concurrency_spans (a day of one app: a few thousand rows
--     at 2,000 hosts) and read the others' hours.
-- Kept by statement triggers on sessions, whoever writes them, in the writing transaction:
-- spans are added (a session extended in place adds only its new end), a session removed or
-- shrunk recomputes its (app, day, host, user) from the sessions (the primary key's host and
-- user prefix finds them), and the (app, day)s touched are marked dirty. Each statement then
-- computes the hours of at most two dirty (app, day)s older than yesterday (late arrivals, a
-- reprocess), skipping those another transaction is computing, so writers never wait here;
-- the current days stay dirty until they are over.
-- A UTC day is 24 hours: added as such, never as '1 day' (which follows the session's time zone).
SET LOCAL work_mem = '256MB';

CREATE TABLE concurrency_spans (
    app        text COLLATE "C" NOT NULL,
    day        timestamptz      NOT NULL,  -- the UTC day
    host       text COLLATE "C" NOT NULL,
    user_name  text COLLATE "C" NOT NULL,
    spans      tstzmultirange   NOT NULL,
    PRIMARY KEY (app, day, host, user_name)
);

CREATE TABLE concurrency_hourly (
    app         text COLLATE "C" NOT NULL,
    hour        timestamptz      NOT NULL,  -- the UTC hour
    peak_users  integer          NOT NULL,
    peak_hosts  integer          NOT NULL,
    users       integer[]        NOT NULL,  -- each count of users running (>= 1), ascending
    micros      bigint[]         NOT NULL,  -- ... and for how long within the hour
    PRIMARY KEY (app, hour)
);

-- No unique key: two writers marking the same (app, day) never wait on each other (a
-- duplicate is harmless); a statement marks only what is not marked yet.
CREATE TABLE concurrency_dirty (
    app  text COLLATE "C" NOT NULL,
    day  timestamptz      NOT NULL
);
CREATE INDEX concurrency_dirty_idx ON concurrency_dirty (app, day);

-- The hours of one app and UTC day with use, from concurrency_spans: per hour the peak users
-- and hosts and the time each count of users ran. A user (host) runs while any of its spans
-- does, so a user on two hosts at once counts once; every hour start is an instant of the
-- sweep, so each stretch of constant count lies within one hour.
CREATE FUNCTION concurrency_day(of_app text, of_day timestamptz)
RETURNS TABLE (hour timestamptz, peak_users integer, peak_hosts integer, users integer[],
               micros bigint[])
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
WITH pieces AS (
    SELECT s.host, s.user_name, r
    FROM concurrency_spans s CROSS JOIN LATERAL unnest(s.spans) r
    WHERE s.app = of_app AND s.day = of_day
), running AS (
    SELECT 'u'::"char" AS kind, unnest(range_agg(r)) AS r FROM pieces GROUP BY user_name
    UNION ALL
    SELECT 'h'::"char", unnest(range_agg(r)) FROM pieces GROUP BY host
), edges AS (
    SELECT kind, lower(r) AS t, 1 AS d FROM running
    UNION ALL
    SELECT kind, upper(r), -1 FROM running
    UNION ALL
    SELECT k.kind, h, 0
    FROM generate_series(of_day, of_day + interval '23 hours', interval '1 hour') h
    CROSS JOIN (VALUES ('u'::"char"), ('h'::"char")) k (kind)
), counts AS (
    SELECT kind, t, sum(sum(d)) OVER (PARTITION BY kind ORDER BY t) AS n
    FROM edges
    GROUP BY kind, t
), stretches AS (
    SELECT kind, t, n,
           lead(t, 1, of_day + interval '24 hours') OVER (PARTITION BY kind ORDER BY t) - t
               AS length
    FROM counts
), per_count AS (
    SELECT kind, date_trunc('hour', t, 'UTC') AS hour, n::integer AS n,
           sum(extract(epoch FROM length) * 1000000)::bigint AS micros
    FROM stretches
    WHERE n > 0
    GROUP BY 1, 2, 3
)
SELECT hour,
       coalesce(max(n) FILTER (WHERE kind = 'u'), 0)::integer,
       coalesce(max(n) FILTER (WHERE kind = 'h'), 0)::integer,
       coalesce(array_agg(n ORDER BY n) FILTER (WHERE kind = 'u'), '{}'),
       coalesce(array_agg(micros ORDER BY n) FILTER (WHERE kind = 'u'), '{}')
FROM per_count
GROUP BY hour
ORDER BY hour;
END;

-- Computes the hours of at most `budget` dirty (app, day)s before `before`, skipping those
-- another transaction is computing; returns how many it computed. The dirty marks it deletes
-- were visible before it read the spans, so a change committed meanwhile stays marked.
CREATE FUNCTION concurrency_refresh(budget integer, before timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    k record;
    done integer := 0;
BEGIN
    FOR k IN SELECT app, day FROM concurrency_dirty WHERE day < before
             GROUP BY app, day ORDER BY day, app LIMIT budget LOOP
        CONTINUE WHEN NOT pg_try_advisory_xact_lock(hashtext('concurrency_hourly'),
                                                    hashtext(k.app || k.day::text));
        BEGIN
            -- A writer whose change relies on a mark holds it (FOR KEY SHARE) until it commits:
            -- then this (app, day) is left for later.
            PERFORM FROM concurrency_dirty WHERE app = k.app AND day = k.day FOR UPDATE NOWAIT;
        EXCEPTION WHEN lock_not_available THEN
            CONTINUE;
        END;
        DELETE FROM concurrency_dirty WHERE app = k.app AND day = k.day;
        DELETE FROM concurrency_hourly
        WHERE app = k.app AND hour >= k.day AND hour < k.day + interval '24 hours';
        INSERT INTO concurrency_hourly
        SELECT k.app, c.* FROM concurrency_day(k.app, k.day) c;
        done := done + 1;
    END LOOP;
    RETURN done;
END
$$;

-- The pieces of use a set of sessions adds: `changes` is a query of rows (app, host,
-- user_name, first_seen, ended) of non-system sessions of known apps; each is cut at UTC days.
CREATE FUNCTION concurrency_pieces_sql(changes text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN format($q$
    SELECT c.app, d AS day, c.host, c.user_name,
           range_agg(tstzrange(greatest(c.first_seen, d), least(c.ended, d + interval '24 hours')))
               AS spans
    FROM (%s) c (app, host, user_name, first_seen, ended)
    CROSS JOIN LATERAL generate_series(date_trunc('day', c.first_seen, 'UTC'),
                                       c.ended - interval '1 microsecond', interval '1 day',
                                       'UTC') d
    WHERE c.ended > c.first_seen
    GROUP BY 1, 2, 3, 4
$q$, changes);

-- Marks the (app, day)s of `touched` (a CTE's name) dirty, unless a mark is there already:
-- that one is held (FOR KEY SHARE) until the transaction ends, so that concurrency_refresh
-- cannot take it out before this change is visible; one being taken out is not relied on.
CREATE FUNCTION concurrency_mark_sql(touched text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN format($q$
    INSERT INTO concurrency_dirty
    SELECT DISTINCT t.app, t.day FROM %I t
    WHERE NOT EXISTS (SELECT FROM concurrency_dirty d WHERE d.app = t.app AND d.day = t.day
                      FOR KEY SHARE SKIP LOCKED)
$q$, touched);

CREATE FUNCTION concurrency_keep() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- What the statement added: new sessions, and an extended one's new end.
    added text;
    -- Sessions that went out or shrank (or changed app, system flag or key): their
    -- (app, day, host, user) are recomputed from the sessions.
    removed text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM concurrency_spans;
        DELETE FROM concurrency_hourly;
        DELETE FROM concurrency_dirty;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        added := 'SELECT app, host, user_name, first_seen, ended FROM new_rows
                  WHERE app <> '''' AND NOT is_system';
    ELSIF TG_OP = 'DELETE' THEN
        removed := 'SELECT app, host, user_name, first_seen, ended FROM old_rows
                    WHERE app <> '''' AND NOT is_system';
    ELSE
        added := 'SELECT n.app, n.host, n.user_name,
                         CASE WHEN o.host IS NULL THEN n.first_seen ELSE o.ended END, n.ended
                  FROM new_rows n
                  LEFT JOIN old_rows o
                    ON (o.host, o.user_name, o.pid, o.name, o.first_seen)
                       = (n.host, n.user_name, n.pid, n.name, n.first_seen)
                   AND (o.app, o.is_system) = (n.app, n.is_system) AND o.ended <= n.ended
                  WHERE n.app <> '''' AND NOT n.is_system';
        removed := 'SELECT o.app, o.host, o.user_name, o.first_seen, o.ended
                    FROM old_rows o
                    WHERE o.app <> '''' AND NOT o.is_system AND NOT EXISTS (
                        SELECT 1 FROM new_rows n
                        WHERE (n.host, n.user_name, n.pid, n.name, n.first_seen)
                              = (o.host, o.user_name, o.pid, o.name, o.first_seen)
                          AND (n.app, n.is_system) = (o.app, o.is_system)
                          AND n.ended >= o.ended)';
    END IF;
    IF removed IS NOT NULL THEN
        EXECUTE format($q$
            WITH gone AS (%s), keys AS (
                DELETE FROM concurrency_spans s
                USING (SELECT DISTINCT app, day, host, user_name FROM gone) g
                WHERE (s.app, s.day, s.host, s.user_name) = (g.app, g.day, g.host, g.user_name)
                RETURNING s.app, s.day, s.host, s.user_name
            ), kept AS (
                INSERT INTO concurrency_spans
                SELECT k.app, k.day, k.host, k.user_name,
                       range_agg(tstzrange(greatest(s.first_seen, k.day),
                                           least(s.ended, k.day + interval '24 hours')))
                FROM keys k
                JOIN sessions s
                  ON s.host = k.host AND s.user_name = k.user_name AND s.app = k.app
                 AND NOT s.is_system AND s.first_seen < k.day + interval '24 hours'
                 AND s.ended > k.day
                GROUP BY 1, 2, 3, 4
            )
            %s
        $q$, concurrency_pieces_sql(removed), concurrency_mark_sql('gone'));
    END IF;
    IF added IS NOT NULL THEN
        EXECUTE format($q$
            WITH new AS (%s), kept AS (
                INSERT INTO concurrency_spans AS s
                SELECT * FROM new ORDER BY 1, 2, 3, 4
                ON CONFLICT (app, day, host, user_name)
                DO UPDATE SET spans = s.spans + EXCLUDED.spans
            )
            %s
        $q$, concurrency_pieces_sql(added), concurrency_mark_sql('new'));
    END IF;
    PERFORM concurrency_refresh(2, date_trunc('day', now(), 'UTC') - interval '24 hours');
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_concurrency_insert AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION concurrency_keep();
CREATE TRIGGER sessions_concurrency_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION concurrency_keep();
CREATE TRIGGER sessions_concurrency_update AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION concurrency_keep();
CREATE TRIGGER sessions_concurrency_truncate AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION concurrency_keep();

-- Backfill from the sessions stored before this migration: the spans in one pass, then the
-- hours of every (app, day).
DO $$
BEGIN
    EXECUTE 'INSERT INTO concurrency_spans ' || concurrency_pieces_sql(
        $s$SELECT app, host, user_name, first_seen, ended FROM sessions
           WHERE app <> '' AND NOT is_system$s$);
END
$$;
INSERT INTO concurrency_hourly
SELECT k.app, c.*
FROM (SELECT DISTINCT app, day FROM concurrency_spans) k
CROSS JOIN LATERAL concurrency_day(k.app, k.day) c;

-- The hourly presence of a day is read from its index alone (an index-only scan): a day's rows
-- of one app, OS or faculty lie scattered over the heap, a page each. Its rows are never
-- updated in place (folded: deleted and inserted), so the included bitmaps cost no HOT update.
DROP INDEX usage_presence_hourly_key_idx;
CREATE INDEX usage_presence_hourly_key_idx
    ON usage_presence_hourly (day, app, os, faculty, dim, who) INCLUDE (hours, u_hours);
