-- What top-apps?group_by=executable|version reads over whole days, instead of every session in
-- use in the range (~14 M sessions for a month at 2,000 hosts): the same numbers as
-- products.sql's top_apps_by over sessions, per app and executable (sessions.name) or version
-- (sessions.version; '' here where the session has none).
--
-- usage_versions_daily: per UTC day, app, name and version, the seconds of use of the sessions
-- (split over the days their [first_seen, ended) covers) and their launches (on the day of
-- first_seen); u_* over non-system sessions only. Seconds in multiples of 1/1024 s (exact sums).
-- usage_versions_spans: per first and last day in use (first_day, last_day) and app, name and
-- version, the sessions' observations (samples): the sessions in use in whole days [F, T) are
-- those with first_day < T and last_day >= F, each counting all of its own, as over sessions.
-- Both are folded as usage_hours_hourly is (migration 0011): a key may hold a few rows for a
-- while (SKIP LOCKED), readers sum them.
--
-- usage_versions_presence: per app, kind ('e': key is the name; 'v': the version) and key,
-- and user (dim 'u') or host ('h'), the days it was in use as a bitmap per 64-day block, the
-- blocks as array subscripts (as usage_presence_apps, migration 0021); u_days: non-system
-- sessions only. A range's users are a count of rows.
--
-- Kept by statement triggers on sessions, whoever writes them (the writer, a reprocess, an
-- erasure, a fixture). A statement adds its changes (rows in minus rows out; a session extended
-- in place only its change); presence bits are OR-ed in for sessions reaching a new day, and the
-- keys of a session that went, shrank or changed its app or version are rebuilt from the
-- sessions (a key left with no session is deleted: an erased user's name does not stay here).
SET LOCAL work_mem = '256MB';

CREATE TABLE usage_versions_daily (
    bucket      timestamptz      NOT NULL,  -- the UTC day
    app         text COLLATE "C" NOT NULL,
    name        text COLLATE "C" NOT NULL,
    version     text COLLATE "C" NOT NULL,  -- '' where the session has none
    seconds     double precision NOT NULL,
    launches    integer          NOT NULL,
    u_seconds   double precision NOT NULL,
    u_launches  integer          NOT NULL
);
CREATE INDEX usage_versions_daily_key_idx ON usage_versions_daily (bucket, app, name, version);

CREATE TABLE usage_versions_spans (
    first_day   timestamptz      NOT NULL,
    last_day    timestamptz      NOT NULL,
    app         text COLLATE "C" NOT NULL,
    name        text COLLATE "C" NOT NULL,
    version     text COLLATE "C" NOT NULL,
    samples     bigint           NOT NULL,
    u_samples   bigint           NOT NULL
);
CREATE INDEX usage_versions_spans_key_idx
    ON usage_versions_spans (first_day, last_day, app, name, version);

CREATE TABLE usage_versions_presence (
    app     text COLLATE "C" NOT NULL,
    kind    "char"           NOT NULL CHECK (kind IN ('e', 'v')),
    key     text COLLATE "C" NOT NULL,
    dim     "char"           NOT NULL CHECK (dim IN ('u', 'h')),
    who     text COLLATE "C" NOT NULL,
    days    bigint[]         NOT NULL,
    u_days  bigint[]         NOT NULL,
    PRIMARY KEY (app, kind, key, dim, who)
);

-- Seconds of [first_seen, until) within the UTC day starting at `day`, in multiples of 1/1024 s.
CREATE FUNCTION usage_day_seconds(first_seen timestamptz, until timestamptz, day timestamptz)
RETURNS double precision LANGUAGE sql STABLE PARALLEL SAFE
RETURN round(greatest(0, date_part('epoch', least(until, day + interval '1 day')
                                            - greatest(first_seen, day))) * 1024) / 1024;

-- The statement adding changes to the two counters' tables: `changes` is a query of one row per
-- session changed, (first_seen, old_end, new_end, launch, old_samples, new_samples, app, name,
-- version, is_system): its use was [first_seen, old_end) with old_samples and is now
-- [first_seen, new_end) with new_samples (absent: end = first_seen, samples 0), `launch` +1 /
-- -1 when its launch comes in / goes out.
CREATE FUNCTION usage_versions_sql(changes text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN format($q$
WITH c AS (
    SELECT c.first_seen, c.old_end, c.new_end, c.launch, c.old_samples, c.new_samples, c.app,
           c.name, coalesce(c.version, '') AS version, c.is_system
    FROM (%s) c (first_seen, old_end, new_end, launch, old_samples, new_samples, app, name,
                 version, is_system)
    WHERE c.app <> ''
      AND (c.old_end <> c.new_end OR c.launch <> 0 OR c.old_samples <> c.new_samples)
), days AS (
    SELECT d AS bucket, c.app, c.name, c.version, c.is_system,
           usage_day_seconds(c.first_seen, c.new_end, d)
               - usage_day_seconds(c.first_seen, c.old_end, d) AS seconds,
           c.launch * (c.first_seen >= d AND c.first_seen < d + interval '1 day')::int
               AS launches
    FROM c
    CROSS JOIN LATERAL generate_series(
        date_trunc('day', least(c.old_end, c.new_end), 'UTC'),
        greatest(c.old_end, c.new_end) - interval '1 microsecond', interval '1 day') d
    WHERE c.old_end <> c.new_end OR c.launch <> 0
), day_delta AS (
    SELECT bucket, app, name, version, sum(seconds) AS seconds, sum(launches)::int AS launches,
           coalesce(sum(seconds) FILTER (WHERE NOT is_system), 0) AS u_seconds,
           coalesce(sum(launches) FILTER (WHERE NOT is_system), 0)::int AS u_launches
    FROM days
    GROUP BY 1, 2, 3, 4
), day_folded AS (
    DELETE FROM usage_versions_daily u
    WHERE u.ctid = ANY (ARRAY(
        SELECT x.ctid FROM usage_versions_daily x
        JOIN day_delta d ON (d.bucket, d.app, d.name, d.version)
                            = (x.bucket, x.app, x.name, x.version)
        FOR UPDATE OF x SKIP LOCKED))
    RETURNING u.*
), day_written AS (
    INSERT INTO usage_versions_daily
    SELECT bucket, app, name, version, sum(seconds), sum(launches), sum(u_seconds),
           sum(u_launches)
    FROM (SELECT * FROM day_delta UNION ALL SELECT * FROM day_folded) t
    GROUP BY 1, 2, 3, 4
    HAVING sum(seconds) <> 0 OR sum(launches) <> 0 OR sum(u_seconds) <> 0
        OR sum(u_launches) <> 0
    ORDER BY 1, 2, 3, 4
    RETURNING 1
), span_delta AS (
    SELECT date_trunc('day', c.first_seen, 'UTC') AS first_day,
           date_trunc('day', s.until - interval '1 microsecond', 'UTC') AS last_day,
           c.app, c.name, c.version, sum(s.samples)::bigint AS samples,
           coalesce(sum(s.samples) FILTER (WHERE NOT c.is_system), 0)::bigint AS u_samples
    FROM c
    CROSS JOIN LATERAL (VALUES (c.new_end, c.new_samples), (c.old_end, -c.old_samples))
        s (until, samples)
    WHERE s.samples <> 0
    GROUP BY 1, 2, 3, 4, 5
), span_folded AS (
    DELETE FROM usage_versions_spans u
    WHERE u.ctid = ANY (ARRAY(
        SELECT x.ctid FROM usage_versions_spans x
        JOIN span_delta d ON (d.first_day, d.last_day, d.app, d.name, d.version)
                             = (x.first_day, x.last_day, x.app, x.name, x.version)
        FOR UPDATE OF x SKIP LOCKED))
    RETURNING u.*
)
INSERT INTO usage_versions_spans
SELECT first_day, last_day, app, name, version, sum(samples), sum(u_samples)
FROM (SELECT * FROM span_delta UNION ALL SELECT * FROM span_folded) t
WHERE (SELECT count(*) FROM day_written) >= 0  -- (the daily rows are written first)
GROUP BY 1, 2, 3, 4, 5
HAVING sum(samples) <> 0 OR sum(u_samples) <> 0
ORDER BY 1, 2, 3, 4, 5
$q$, changes);

-- Per (app, kind, key, dim, who, block) of the sessions of `sessions` (a query of sessions
-- rows), the days in use: (app, kind, key, dim, who, block, days, u_days).
CREATE FUNCTION usage_versions_words_sql(sessions text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN format($q$
SELECT s.app, k.kind, k.key, w.dim, w.who, usage_block(d) AS block,
       bit_or(usage_day_bit(d)) AS days,
       coalesce(bit_or(usage_day_bit(d)) FILTER (WHERE NOT s.is_system), 0) AS u_days
FROM (%s) s
CROSS JOIN LATERAL (VALUES ('e'::"char", s.name),
                           ('v'::"char", coalesce(s.version, ''))) k (kind, key)
CROSS JOIN LATERAL (VALUES ('u'::"char", s.user_name), ('h'::"char", s.host)) w (dim, who)
CROSS JOIN LATERAL generate_series(date_trunc('day', s.first_seen, 'UTC'),
                                   s.ended - interval '1 microsecond', interval '1 day') d
WHERE s.app <> ''
GROUP BY 1, 2, 3, 4, 5, 6
$q$, sessions);

-- The presence rows of the sessions of `sessions`, inserted: per key its blocks' words from its
-- first to its last block (NULL where none), as an array with those bounds.
CREATE FUNCTION usage_versions_presence_sql(sessions text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN format($q$
INSERT INTO usage_versions_presence AS r
WITH words AS (%s), keys AS (
    SELECT app, kind, key, dim, who, min(block) AS lo, max(block) AS hi
    FROM words
    GROUP BY 1, 2, 3, 4, 5
)
SELECT k.app, k.kind, k.key, k.dim, k.who,
       ('[' || k.lo || ':' || k.hi || ']=' || array_agg(w.days ORDER BY g)::text)::bigint[],
       ('[' || k.lo || ':' || k.hi || ']='
        || array_agg(nullif(w.u_days, 0) ORDER BY g)::text)::bigint[]
FROM keys k
CROSS JOIN LATERAL generate_series(k.lo, k.hi) g
LEFT JOIN words w ON (w.app, w.kind, w.key, w.dim, w.who, w.block)
                     = (k.app, k.kind, k.key, k.dim, k.who, g)
GROUP BY 1, 2, 3, 4, 5, k.lo, k.hi
ORDER BY 1, 2, 3, 4, 5
$q$, usage_versions_words_sql(sessions));

-- Two presence arrays OR-ed element by element, over the union of their bounds (NULL: no bit).
CREATE FUNCTION usage_versions_or(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (SELECT ('[' || x.lo || ':' || x.hi || ']='
                || array_agg(nullif(coalesce(a[g], 0) | coalesce(b[g], 0), 0) ORDER BY g)::text
               )::bigint[]
        FROM (SELECT least(array_lower(a, 1), array_lower(b, 1)) AS lo,
                     greatest(array_upper(a, 1), array_upper(b, 1)) AS hi) x
        CROSS JOIN LATERAL generate_series(x.lo, x.hi) g
        GROUP BY x.lo, x.hi);

CREATE FUNCTION usage_versions_keep() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    b integer;
    -- Sessions whose days in use grew (new, or reaching a new day): their bits are OR-ed in.
    grown text := CASE TG_OP WHEN 'INSERT' THEN 'SELECT * FROM new_rows'
        ELSE 'SELECT n.* FROM new_rows n
              LEFT JOIN old_rows o
                ON (o.host, o.user_name, o.pid, o.name, o.first_seen)
                   = (n.host, n.user_name, n.pid, n.name, n.first_seen)
              WHERE o.host IS NULL OR (o.app, o.version, o.is_system)
                                      IS DISTINCT FROM (n.app, n.version, n.is_system)
                 OR date_trunc(''day'', o.ended - interval ''1 microsecond'', ''UTC'')
                    < date_trunc(''day'', n.ended - interval ''1 microsecond'', ''UTC'')' END;
    -- Sessions that went, shrank or changed app, version or system flag: their keys are rebuilt.
    lost text := CASE TG_OP WHEN 'DELETE' THEN 'SELECT * FROM old_rows'
        ELSE 'SELECT o.* FROM old_rows o
              LEFT JOIN new_rows n
                ON (n.host, n.user_name, n.pid, n.name, n.first_seen)
                   = (o.host, o.user_name, o.pid, o.name, o.first_seen)
              WHERE n.host IS NULL OR (o.app, o.version, o.is_system)
                                      IS DISTINCT FROM (n.app, n.version, n.is_system)
                 OR n.ended < o.ended' END;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM usage_versions_daily;
        DELETE FROM usage_versions_spans;
        DELETE FROM usage_versions_presence;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        EXECUTE usage_versions_sql('SELECT first_seen, first_seen, ended, 1, 0, samples, app,
                                    name, version, is_system FROM new_rows');
    ELSIF TG_OP = 'DELETE' THEN
        EXECUTE usage_versions_sql('SELECT first_seen, ended, first_seen, -1, samples, 0, app,
                                    name, version, is_system FROM old_rows');
    ELSE
        EXECUTE usage_versions_sql($c$
            SELECT c.* FROM old_rows o
            FULL JOIN new_rows n
                ON (n.host, n.user_name, n.pid, n.name, n.first_seen)
                   = (o.host, o.user_name, o.pid, o.name, o.first_seen)
            CROSS JOIN LATERAL (SELECT o.host IS NOT NULL AND n.host IS NOT NULL
                                       AND (o.app, o.version, o.is_system)
                                           IS NOT DISTINCT FROM
                                           (n.app, n.version, n.is_system) AS same) k
            CROSS JOIN LATERAL (VALUES
                (o.first_seen, o.ended, CASE WHEN k.same THEN n.ended ELSE o.first_seen END,
                 CASE WHEN k.same THEN 0 ELSE -1 END, o.samples,
                 CASE WHEN k.same THEN n.samples ELSE 0 END,
                 o.app, o.name, o.version, o.is_system),
                (CASE WHEN k.same THEN NULL ELSE n.first_seen END, n.first_seen, n.ended, 1, 0,
                 n.samples, n.app, n.name, n.version, n.is_system)
            ) c (first_seen, old_end, new_end, launch, old_samples, new_samples, app, name,
                 version, is_system)
            WHERE c.first_seen IS NOT NULL$c$);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        IF to_regclass('pg_temp.usage_versions_words') IS NULL THEN
            CREATE TEMP TABLE usage_versions_words (
                app text COLLATE "C", kind "char", key text COLLATE "C", dim "char",
                who text COLLATE "C", block integer, days bigint, u_days bigint
            ) ON COMMIT DELETE ROWS;
        END IF;
        DELETE FROM usage_versions_words;
        EXECUTE 'INSERT INTO usage_versions_words ' || usage_versions_words_sql(grown);
        FOR b IN SELECT DISTINCT block FROM usage_versions_words ORDER BY 1 LOOP
            INSERT INTO usage_versions_presence AS r
            SELECT app, kind, key, dim, who, array_fill(days, ARRAY[1], ARRAY[b]),
                   array_fill(nullif(u_days, 0), ARRAY[1], ARRAY[b])
            FROM usage_versions_words
            WHERE block = b
            ORDER BY 1, 2, 3, 4, 5
            ON CONFLICT (app, kind, key, dim, who) DO UPDATE SET
                days[b] = coalesce(r.days[b], 0) | EXCLUDED.days[b],
                u_days[b] = nullif(coalesce(r.u_days[b], 0) | coalesce(EXCLUDED.u_days[b], 0), 0)
            -- Usually the bits are there already: no new row version.
            WHERE EXCLUDED.days[b] & ~coalesce(r.days[b], 0) <> 0
               OR coalesce(EXCLUDED.u_days[b], 0) & ~coalesce(r.u_days[b], 0) <> 0;
        END LOOP;
    END IF;
    IF TG_OP = 'INSERT' THEN
        RETURN NULL;
    END IF;
    -- The keys of sessions that went or shrank, with the days they had (per block). A key whose
    -- days are all still covered by the sessions of the same host, user and app (read by the
    -- primary key: the merged session of a writer's merge, say) keeps its row; the others are
    -- rebuilt from the sessions (by host: the primary key; by user: the app's sessions).
    IF to_regclass('pg_temp.usage_versions_lost') IS NULL THEN
        CREATE TEMP TABLE usage_versions_lost (
            app text COLLATE "C", kind "char", key text COLLATE "C", dim "char",
            who text COLLATE "C", host text COLLATE "C", user_name text COLLATE "C",
            block integer, days bigint, u_days bigint
        ) ON COMMIT DELETE ROWS;
    END IF;
    DELETE FROM usage_versions_lost;
    EXECUTE format($q$
        INSERT INTO usage_versions_lost
        SELECT l.app, k.kind, k.key, w.dim, w.who, l.host, l.user_name, usage_block(d),
               bit_or(usage_day_bit(d)),
               coalesce(bit_or(usage_day_bit(d)) FILTER (WHERE NOT l.is_system), 0)
        FROM (%s) l
        CROSS JOIN LATERAL (VALUES ('e'::"char", l.name),
                                   ('v'::"char", coalesce(l.version, ''))) k (kind, key)
        CROSS JOIN LATERAL (VALUES ('u'::"char", l.user_name), ('h'::"char", l.host)) w (dim, who)
        CROSS JOIN LATERAL generate_series(date_trunc('day', l.first_seen, 'UTC'),
                                           l.ended - interval '1 microsecond', interval '1 day') d
        WHERE l.app <> ''
        GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
    $q$, lost);
    IF NOT EXISTS (SELECT FROM usage_versions_lost) THEN
        RETURN NULL;
    END IF;
    EXECUTE format($q$
        DELETE FROM usage_versions_lost l
        WHERE NOT EXISTS (
            SELECT FROM usage_versions_lost x
            LEFT JOIN (%s) c
              ON (c.app, c.kind, c.key, c.dim, c.who, c.block)
                 = (x.app, x.kind, x.key, x.dim, x.who, x.block)
            WHERE (x.app, x.kind, x.key, x.dim, x.who) = (l.app, l.kind, l.key, l.dim, l.who)
              AND (x.days & ~coalesce(c.days, 0) <> 0 OR x.u_days & ~coalesce(c.u_days, 0) <> 0))
    $q$, usage_versions_words_sql($s$
        SELECT s.* FROM sessions s
        JOIN (SELECT DISTINCT host, user_name, app FROM usage_versions_lost) h
          ON (s.host, s.user_name, s.app) = (h.host, h.user_name, h.app)
    $s$));
    IF NOT EXISTS (SELECT FROM usage_versions_lost) THEN
        RETURN NULL;
    END IF;
    DELETE FROM usage_versions_presence r
    USING usage_versions_lost l
    WHERE (r.app, r.kind, r.key, r.dim, r.who) = (l.app, l.kind, l.key, l.dim, l.who);
    EXECUTE usage_versions_presence_sql($s$
        SELECT s.* FROM sessions s
        JOIN (SELECT DISTINCT who, app FROM usage_versions_lost WHERE dim = 'h') l
          ON (s.host, s.app) = (l.who, l.app)
        UNION ALL
        SELECT s.* FROM sessions s
        JOIN (SELECT DISTINCT who, app FROM usage_versions_lost WHERE dim = 'u') l
          ON (s.user_name, s.app) = (l.who, l.app)
    $s$) || $w$
        ON CONFLICT (app, kind, key, dim, who) DO UPDATE SET
            days = usage_versions_or(r.days, EXCLUDED.days),
            u_days = usage_versions_or(r.u_days, EXCLUDED.u_days)
        WHERE EXCLUDED.days IS DISTINCT FROM r.days OR EXCLUDED.u_days IS DISTINCT FROM r.u_days
    $w$;
    -- (the rebuild reads every session of those hosts' and users' apps: keys not lost were
    -- whole already and gain nothing; a key another writer added meanwhile is OR-ed with.)
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_versions_insert AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_versions_keep();
CREATE TRIGGER sessions_versions_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_versions_keep();
CREATE TRIGGER sessions_versions_update AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_versions_keep();
CREATE TRIGGER sessions_versions_truncate AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION usage_versions_keep();

-- Backfill from the sessions stored before this migration, set-based.
DO $$
BEGIN
    EXECUTE usage_versions_sql('SELECT first_seen, first_seen, ended, 1, 0, samples, app, name,
                                version, is_system FROM sessions');
    EXECUTE usage_versions_presence_sql('SELECT * FROM sessions');
END
$$;
