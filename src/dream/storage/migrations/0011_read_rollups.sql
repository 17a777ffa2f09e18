-- Seconds of use and launches per UTC hour and app (not per user or host): what hourly buckets
-- and the hours at either end of a range read, instead of cutting every session overlapping
-- them into hours (a week of one OS is about a million sessions at 2,000 hosts).
--
-- Same definitions as usage_hours_daily (migration 0007), an hour instead of a day: a
-- session's [first_seen, ended) is split over the UTC hours it covers, its launch counts in the
-- hour of first_seen, u_* over non-system sessions only, no row for a session without app.
-- Each hour's seconds of a session are kept in multiples of 1/1024 s, so sums are exact in
-- any order.
--
-- Kept by statement triggers on sessions, whoever writes them (the worker, a reprocess, a
-- fixture), in the writing transaction: each statement adds the change it made (rows in minus
-- rows out; for a session extended in place, only the hours between its old and new end) and
-- folds the rows of the keys it touched into one. The folding skips rows another transaction
-- is folding (SKIP LOCKED), so concurrent writers never wait on each other here and cannot
-- deadlock on these rows; a key may hold a few rows for a while, and readers sum them. The
-- table always equals the sum over the sessions.
-- The backfills below group every session and usage_hourly row: memory enough to hash them.
SET LOCAL work_mem = '256MB';

CREATE TABLE usage_hours_hourly (
    bucket      timestamptz      NOT NULL,  -- the UTC hour
    app         text COLLATE "C" NOT NULL,
    os          text COLLATE "C" NOT NULL,
    faculty     text COLLATE "C" NOT NULL,
    seconds     double precision NOT NULL,
    launches    integer          NOT NULL,
    u_seconds   double precision NOT NULL,
    u_launches  integer          NOT NULL
);
CREATE INDEX usage_hours_hourly_key_idx ON usage_hours_hourly (bucket, app, os, faculty);
CREATE INDEX usage_hours_hourly_app_idx ON usage_hours_hourly (app, bucket);

-- Seconds of [first_seen, until) within the hour starting at `hour`, in multiples of 1/1024 s.
-- (STABLE, as timestamptz arithmetic is: so it is inlined into the queries using it.)
CREATE FUNCTION usage_hour_seconds(first_seen timestamptz, until timestamptz, hour timestamptz)
RETURNS double precision LANGUAGE sql STABLE PARALLEL SAFE
RETURN round(greatest(0, date_part('epoch', least(until, hour + interval '1 hour')
                                            - greatest(first_seen, hour))) * 1024) / 1024;

-- The statement adding changes to usage_hours_hourly: `changes` is a query of one row per
-- session changed, (first_seen, old_end, new_end, launch, app, os, faculty, is_system): its use
-- was [first_seen, old_end) and is now [first_seen, new_end) (either empty: end = first_seen),
-- `launch` +1 / -1 when its launch comes in / goes out (else 0). The keys touched are folded.
CREATE FUNCTION usage_hours_hourly_sql(changes text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN format($q$
WITH c AS (
    SELECT * FROM (%s) c (first_seen, old_end, new_end, launch, app, os, faculty, is_system)
    WHERE c.app <> '' AND (c.old_end <> c.new_end OR c.launch <> 0)
), pieces AS (
    SELECT h AS bucket, c.app, c.os, c.faculty, c.is_system,
           usage_hour_seconds(c.first_seen, c.new_end, h)
               - usage_hour_seconds(c.first_seen, c.old_end, h) AS seconds,
           c.launch * (c.first_seen >= h AND c.first_seen < h + interval '1 hour')::int
               AS launches
    FROM c
    CROSS JOIN LATERAL generate_series(
        -- (a launch in or out has first_seen as one of its ends)
        date_trunc('hour', least(c.old_end, c.new_end), 'UTC'),
        greatest(c.old_end, c.new_end) - interval '1 microsecond', interval '1 hour') h
), delta AS (
    SELECT bucket, app, os, faculty, sum(seconds) AS seconds, sum(launches)::int AS launches,
           coalesce(sum(seconds) FILTER (WHERE NOT is_system), 0) AS u_seconds,
           coalesce(sum(launches) FILTER (WHERE NOT is_system), 0)::int AS u_launches
    FROM pieces
    GROUP BY 1, 2, 3, 4
), folded AS (
    DELETE FROM usage_hours_hourly u
    WHERE u.ctid = ANY (ARRAY(
        SELECT x.ctid FROM usage_hours_hourly x
        JOIN delta d ON (d.bucket, d.app, d.os, d.faculty) = (x.bucket, x.app, x.os, x.faculty)
        FOR UPDATE OF x SKIP LOCKED))
    RETURNING u.*
)
INSERT INTO usage_hours_hourly
SELECT bucket, app, os, faculty, sum(seconds), sum(launches), sum(u_seconds), sum(u_launches)
FROM (SELECT * FROM delta UNION ALL SELECT * FROM folded) t
GROUP BY 1, 2, 3, 4
HAVING sum(seconds) <> 0 OR sum(launches) <> 0 OR sum(u_seconds) <> 0 OR sum(u_launches) <> 0
ORDER BY 1, 2, 3, 4
$q$, changes);

-- The statement triggers: rows in, rows out, and rows updated (a session extended in place,
-- same key and dimensions, changes only the hours between its old and new end; else the old
-- row goes out and the new one comes in).
CREATE FUNCTION usage_hours_hourly_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        EXECUTE usage_hours_hourly_sql('SELECT first_seen, first_seen, ended, 1, app, os,
                                        faculty, is_system FROM new_rows');
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE usage_hours_hourly_sql('SELECT first_seen, ended, first_seen, -1, app, os,
                                        faculty, is_system FROM old_rows');
    ELSIF TG_OP = 'UPDATE' THEN
        EXECUTE usage_hours_hourly_sql($c$
            SELECT c.* FROM old_rows o
            FULL JOIN new_rows n
                ON (n.host, n.user_name, n.pid, n.name, n.first_seen)
                   = (o.host, o.user_name, o.pid, o.name, o.first_seen)
            CROSS JOIN LATERAL (SELECT o.host IS NOT NULL AND n.host IS NOT NULL
                                       AND (o.app, o.os, o.faculty, o.is_system)
                                           = (n.app, n.os, n.faculty, n.is_system) AS same) k
            CROSS JOIN LATERAL (VALUES
                (o.first_seen, o.ended, CASE WHEN k.same THEN n.ended ELSE o.first_seen END,
                 CASE WHEN k.same THEN 0 ELSE -1 END, o.app, o.os, o.faculty, o.is_system),
                (CASE WHEN k.same THEN NULL ELSE n.first_seen END, n.first_seen, n.ended, 1,
                 n.app, n.os, n.faculty, n.is_system)
            ) c (first_seen, old_end, new_end, launch, app, os, faculty, is_system)
            WHERE c.first_seen IS NOT NULL$c$);
    ELSE  -- TRUNCATE
        DELETE FROM usage_hours_hourly;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_hours_hourly_insert AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_hours_hourly_keep();
CREATE TRIGGER sessions_hours_hourly_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_hours_hourly_keep();
CREATE TRIGGER sessions_hours_hourly_update AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_hours_hourly_keep();
CREATE TRIGGER sessions_hours_hourly_truncate AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION usage_hours_hourly_keep();

-- Backfill from the sessions stored before this migration, a day of them at a time.
DO $$
DECLARE
    day timestamptz;
BEGIN
    FOR day IN SELECT DISTINCT date_trunc('day', first_seen, 'UTC') FROM sessions ORDER BY 1 LOOP
        EXECUTE usage_hours_hourly_sql(format(
            'SELECT first_seen, first_seen, ended, 1, app, os, faculty, is_system FROM sessions'
            ' WHERE first_seen >= %L AND first_seen < %L', day, day + interval '1 day'));
    END LOOP;
END
$$;

-- usage_hourly summed over users and hosts (as usage_daily_apps is usage_daily's), and who
-- ran what in which hours of a day as a bitmap: the hours at either end of a range (and hourly
-- buckets) per app, OS or faculty read these instead of a row per user and host per hour.
--
-- usage_hourly_apps: the same counters as usage_hourly. usage_presence_hourly: a row per UTC
-- day, app, os, faculty and who (dim 'u': a user, 'h': a host); bit i of `hours` is set when
-- hour i of the day has a usage_hourly row for that key with snapshots > 0 (u_hours:
-- u_snapshots > 0), as usage_presence (migration 0005) does per day.
--
-- Kept by statement triggers on usage_hourly, like usage_hours_hourly: changes are appended
-- (counters: rows in minus rows out; presence: the bits of rows with use) and the keys touched
-- folded, skipping rows another transaction is folding, so writers never wait on each other
-- here. A key may hold several rows; readers sum (OR) them. Where a row of usage_hourly lost
-- its use (a reprocess subtracted it, or deleted the row), the presence of its keys is
-- recomputed from usage_hourly.
CREATE TABLE usage_hourly_apps (LIKE usage_daily_apps);
CREATE INDEX usage_hourly_apps_key_idx ON usage_hourly_apps (bucket, app, os, faculty);

CREATE TABLE usage_presence_hourly (
    day      timestamptz      NOT NULL,  -- the UTC day
    app      text COLLATE "C" NOT NULL,
    os       text COLLATE "C" NOT NULL,
    faculty  text COLLATE "C" NOT NULL,
    dim      "char"           NOT NULL CHECK (dim IN ('u', 'h')),
    who      text COLLATE "C" NOT NULL,
    hours    integer          NOT NULL,
    u_hours  integer          NOT NULL
);
CREATE INDEX usage_presence_hourly_key_idx
    ON usage_presence_hourly (day, app, os, faculty, dim, who);

-- The bit of a UTC hour within its day.
CREATE FUNCTION usage_hour_bit(bucket timestamptz) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
RETURN 1 << extract(hour FROM bucket AT TIME ZONE 'UTC')::integer;

CREATE FUNCTION usage_hourly_apps_keep() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    -- The statement's rows, signed: +1 in, -1 out.
    changed text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT 1 AS sign, * FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT -1 AS sign, * FROM old_rows'
        ELSE 'SELECT 1 AS sign, * FROM new_rows UNION ALL SELECT -1, * FROM old_rows' END;
    -- Rows that lost their use (or their non-system use): their keys' presence is recomputed.
    lost text := CASE TG_OP
        WHEN 'DELETE' THEN 'SELECT * FROM old_rows'
        ELSE 'SELECT o.* FROM old_rows o JOIN new_rows n
              ON (n.bucket, n.app, n.os, n.faculty, n.user_name, n.host)
                 = (o.bucket, o.app, o.os, o.faculty, o.user_name, o.host)
              WHERE (o.snapshots > 0 AND n.snapshots <= 0)
                 OR (o.u_snapshots > 0 AND n.u_snapshots <= 0)' END;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM usage_hourly_apps;
        DELETE FROM usage_presence_hourly;
        RETURN NULL;
    END IF;
    EXECUTE format($q$
        WITH c AS (%s), delta AS (
            SELECT bucket, app, os, faculty,
                   sum(sign * snapshots) AS snapshots, sum(sign * processes) AS processes,
                   sum(sign * cpu_sum) AS cpu_sum, sum(sign * cpu_n) AS cpu_n,
                   sum(sign * rss_sum) AS rss_sum, sum(sign * rss_n) AS rss_n,
                   sum(sign * u_snapshots) AS u_snapshots, sum(sign * u_processes) AS u_processes,
                   sum(sign * u_cpu_sum) AS u_cpu_sum, sum(sign * u_cpu_n) AS u_cpu_n,
                   sum(sign * u_rss_sum) AS u_rss_sum, sum(sign * u_rss_n) AS u_rss_n
            FROM c
            GROUP BY 1, 2, 3, 4
        ), folded AS (
            DELETE FROM usage_hourly_apps u
            WHERE u.ctid = ANY (ARRAY(
                SELECT x.ctid FROM usage_hourly_apps x
                JOIN delta d
                  ON (d.bucket, d.app, d.os, d.faculty) = (x.bucket, x.app, x.os, x.faculty)
                FOR UPDATE OF x SKIP LOCKED))
            RETURNING u.*
        )
        INSERT INTO usage_hourly_apps
        SELECT bucket, app, os, faculty, sum(snapshots), sum(processes), sum(cpu_sum),
               sum(cpu_n), sum(rss_sum), sum(rss_n), sum(u_snapshots), sum(u_processes),
               sum(u_cpu_sum), sum(u_cpu_n), sum(u_rss_sum), sum(u_rss_n)
        FROM (SELECT * FROM delta UNION ALL SELECT * FROM folded) t
        GROUP BY 1, 2, 3, 4
        HAVING sum(snapshots) <> 0 OR sum(processes) <> 0 OR sum(u_snapshots) <> 0
            OR sum(u_processes) <> 0
        ORDER BY 1, 2, 3, 4
    $q$, changed);
    IF TG_OP <> 'DELETE' THEN
        EXECUTE $q$
        WITH bits AS (
            SELECT date_trunc('day', n.bucket, 'UTC') AS day, n.app, n.os, n.faculty, w.dim,
                   w.who, bit_or(usage_hour_bit(n.bucket)) AS hours,
                   coalesce(bit_or(usage_hour_bit(n.bucket)) FILTER (WHERE n.u_snapshots > 0),
                            0) AS u_hours
            FROM new_rows n
            CROSS JOIN LATERAL (VALUES ('u'::"char", n.user_name), ('h'::"char", n.host))
                w (dim, who)
            WHERE n.snapshots > 0
            GROUP BY 1, 2, 3, 4, 5, 6
        ), folded AS (
            DELETE FROM usage_presence_hourly u
            WHERE u.ctid = ANY (ARRAY(
                SELECT x.ctid FROM usage_presence_hourly x
                JOIN bits b ON (b.day, b.app, b.os, b.faculty, b.dim, b.who)
                               = (x.day, x.app, x.os, x.faculty, x.dim, x.who)
                FOR UPDATE OF x SKIP LOCKED))
            RETURNING u.*
        )
        INSERT INTO usage_presence_hourly
        SELECT day, app, os, faculty, dim, who, bit_or(hours), bit_or(u_hours)
        FROM (SELECT * FROM bits UNION ALL SELECT * FROM folded) t
        GROUP BY 1, 2, 3, 4, 5, 6
        ORDER BY 1, 2, 3, 4, 5, 6
        $q$;
    END IF;
    IF TG_OP = 'INSERT' THEN
        RETURN NULL;  -- nothing lost
    END IF;
    EXECUTE format($q$
        WITH lost AS (
            SELECT DISTINCT date_trunc('day', o.bucket, 'UTC') AS day, o.app, o.os, o.faculty,
                   w.dim, w.who
            FROM (%s) o
            CROSS JOIN LATERAL (VALUES ('u'::"char", o.user_name), ('h'::"char", o.host))
                w (dim, who)
        ), gone AS (
            DELETE FROM usage_presence_hourly p
            USING lost l
            WHERE (p.day, p.app, p.os, p.faculty, p.dim, p.who)
                  = (l.day, l.app, l.os, l.faculty, l.dim, l.who)
        )
        INSERT INTO usage_presence_hourly
        SELECT l.day, l.app, l.os, l.faculty, l.dim, l.who,
               bit_or(usage_hour_bit(h.bucket)),
               coalesce(bit_or(usage_hour_bit(h.bucket)) FILTER (WHERE h.u_snapshots > 0), 0)
        FROM lost l
        JOIN usage_hourly h
          ON h.bucket >= l.day AND h.bucket < l.day + interval '1 day'
         AND (h.app, h.os, h.faculty) = (l.app, l.os, l.faculty)
         AND (CASE l.dim WHEN 'u' THEN h.user_name ELSE h.host END) = l.who
        WHERE h.snapshots > 0
        GROUP BY 1, 2, 3, 4, 5, 6
    $q$, lost);
    RETURN NULL;
END
$$;

CREATE TRIGGER usage_hourly_apps_insert AFTER INSERT ON usage_hourly
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_hourly_apps_keep();
CREATE TRIGGER usage_hourly_apps_delete AFTER DELETE ON usage_hourly
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_hourly_apps_keep();
CREATE TRIGGER usage_hourly_apps_update AFTER UPDATE ON usage_hourly
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_hourly_apps_keep();
CREATE TRIGGER usage_hourly_apps_truncate AFTER TRUNCATE ON usage_hourly
    FOR EACH STATEMENT EXECUTE FUNCTION usage_hourly_apps_keep();

-- Backfill from the rollups stored before this migration.
INSERT INTO usage_hourly_apps
SELECT bucket, app, os, faculty, sum(snapshots), sum(processes), sum(cpu_sum), sum(cpu_n),
       sum(rss_sum), sum(rss_n), sum(u_snapshots), sum(u_processes), sum(u_cpu_sum),
       sum(u_cpu_n), sum(u_rss_sum), sum(u_rss_n)
FROM usage_hourly
GROUP BY 1, 2, 3, 4;

INSERT INTO usage_presence_hourly
SELECT date_trunc('day', h.bucket, 'UTC'), h.app, h.os, h.faculty, w.dim, w.who,
       bit_or(usage_hour_bit(h.bucket)),
       coalesce(bit_or(usage_hour_bit(h.bucket)) FILTER (WHERE h.u_snapshots > 0), 0)
FROM usage_hourly h
CROSS JOIN LATERAL (VALUES ('u'::"char", h.user_name), ('h'::"char", h.host)) w (dim, who)
WHERE h.snapshots > 0
GROUP BY 1, 2, 3, 4, 5, 6;
