-- The write path's cost per running session (docs/capacity.md, "End to end"): the statement
-- triggers on sessions that keep the versions' rollups (migration 0025) and the concurrency
-- timeline (migration 0016) join an UPDATE's old and new rows once, for both, and skip the work
-- no row needs.
--
-- Before, usage_versions_keep joined old_rows and new_rows three times (the counters, the
-- sessions whose days grew, those that went or shrank) and concurrency_keep twice (what was
-- added, what went), each join sorting both transition tables on the five columns of the
-- primary key: at 15,000 sessions extended by a minute, most of the UPDATE's time. Now one
-- trigger function keeps both (sessions_rollups_keep): it joins them once (hashed) into a
-- temporary table of (old, new) pairs, derives every set from it and runs the statements of the
-- rarer cases (days grown, sessions lost or shrunk, spans gone) only when a pair needs them: a
-- session extended at its end within its last UTC day, with the same app, version and system
-- flag, grows no day and loses nothing. The UTC days are computed without a time zone lookup
-- (usage_utc_day) and the presence words from sessions grouped first. What the rollups hold is
-- unchanged, for every writer.
SET LOCAL work_mem = '256MB';

-- The UTC day of an instant, as date_trunc('day', t, 'UTC') but by arithmetic on the instant,
-- with no time zone looked up: a few times cheaper, and evaluated for every row of a statement.
CREATE FUNCTION usage_utc_day(t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN date_bin(interval '1 day', t, timestamptz '2000-01-01Z');

-- The counters' changes of migration 0025, the UTC days by usage_utc_day.
CREATE OR REPLACE FUNCTION usage_versions_sql(changes text) RETURNS text
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
        usage_utc_day(least(c.old_end, c.new_end)),
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
    SELECT usage_utc_day(c.first_seen) AS first_day,
           usage_utc_day(s.until - interval '1 microsecond') AS last_day,
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

-- The pieces of use a set of sessions adds, as migration 0016's (the days by usage_utc_day):
-- `changes` is a query of rows (app, host, user_name, first_seen, ended) of non-system sessions
-- of known apps; each is cut at UTC days.
CREATE OR REPLACE FUNCTION concurrency_pieces_sql(changes text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN format($q$
    SELECT c.app, d AS day, c.host, c.user_name,
           range_agg(tstzrange(greatest(c.first_seen, d), least(c.ended, d + interval '24 hours')))
               AS spans
    FROM (%s) c (app, host, user_name, first_seen, ended)
    CROSS JOIN LATERAL generate_series(usage_utc_day(c.first_seen),
                                       c.ended - interval '1 microsecond', interval '24 hours') d
    WHERE c.ended > c.first_seen
    GROUP BY 1, 2, 3, 4
$q$, changes);

-- Per (app, kind, key, dim, who, block) of the sessions of `sessions` (a query of sessions
-- rows), the days in use: as migration 0025's, but the sessions first grouped by what their days'
-- bits depend on (app, name, version, user, host, system flag, first UTC day; the latest end):
-- a statement's new sessions are mostly a few processes' many instances, and the sessions of
-- one first day cover the days of the one ending last. 15,000 new sessions are ~2,200 groups.
CREATE OR REPLACE FUNCTION usage_versions_words_sql(sessions text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN format($q$
SELECT s.app, k.kind, k.key, w.dim, w.who, usage_block(d) AS block,
       bit_or(usage_day_bit(d)) AS days,
       coalesce(bit_or(usage_day_bit(d)) FILTER (WHERE NOT s.is_system), 0) AS u_days
FROM (SELECT s.app, s.name, s.version, s.user_name, s.host, s.is_system,
             usage_utc_day(s.first_seen) AS first_day, max(s.ended) AS ended
      FROM (%s) s
      WHERE s.app <> ''
      GROUP BY 1, 2, 3, 4, 5, 6, 7) s
CROSS JOIN LATERAL (VALUES ('e'::"char", s.name),
                           ('v'::"char", coalesce(s.version, ''))) k (kind, key)
CROSS JOIN LATERAL (VALUES ('u'::"char", s.user_name), ('h'::"char", s.host)) w (dim, who)
CROSS JOIN LATERAL generate_series(s.first_day, s.ended - interval '1 microsecond',
                                   interval '1 day') d
GROUP BY 1, 2, 3, 4, 5, 6
$q$, sessions);

-- Both rollups in one statement trigger per event, so that an UPDATE's old and new rows are
-- joined once for both: the pairs (in a temporary table) say per session whether its old row's
-- use goes out (went, shrank, changed app, version or system flag, or for the timeline: not
-- extended in place), its new row's comes in, and whether its days grew.
CREATE FUNCTION sessions_rollups_keep() RETURNS trigger LANGUAGE plpgsql
-- The transition tables' join by hashing: sorting both on the five key columns cost more.
SET enable_mergejoin = off
AS $$
DECLARE
    b integer;
    -- The timeline's: what the statement added (new sessions, an extended one's new end) ...
    added text;
    -- ... and the sessions that went out or shrank (or changed app, system flag or key): their
    -- (app, day, host, user) are recomputed from the sessions.
    removed text;
    -- The versions': sessions whose days in use grew (new, or reaching a new day): their bits
    -- are OR-ed in ...
    grown text;
    -- ... and sessions that went, shrank or changed app, version or system flag: their keys are
    -- rebuilt.
    lost text;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM concurrency_spans;
        DELETE FROM concurrency_hourly;
        DELETE FROM concurrency_dirty;
        DELETE FROM usage_versions_daily;
        DELETE FROM usage_versions_spans;
        DELETE FROM usage_versions_presence;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        added := 'SELECT app, host, user_name, first_seen, ended FROM new_rows
                  WHERE app <> '''' AND NOT is_system';
        EXECUTE usage_versions_sql('SELECT first_seen, first_seen, ended, 1, 0, samples, app,
                                    name, version, is_system FROM new_rows');
        grown := 'SELECT * FROM new_rows';
    ELSIF TG_OP = 'DELETE' THEN
        removed := 'SELECT app, host, user_name, first_seen, ended FROM old_rows
                    WHERE app <> '''' AND NOT is_system';
        EXECUTE usage_versions_sql('SELECT first_seen, ended, first_seen, -1, samples, 0, app,
                                    name, version, is_system FROM old_rows');
        lost := 'SELECT * FROM old_rows';
    ELSE
        -- An UPDATE's sessions, the old row beside the new (by the primary key; a side is NULL
        -- where a key came or went): `same` (both sides, the same app, version and system
        -- flag), `grown` (the new row reaches a day the old did not), `lost` (the old row went,
        -- shrank or changed app, version or system flag), `extended` (the timeline's: both
        -- sides, the same app and system flag, the end not earlier).
        IF to_regclass('pg_temp.sessions_pairs') IS NULL THEN
            CREATE TEMP TABLE sessions_pairs (
                host text COLLATE "C", user_name text COLLATE "C", name text COLLATE "C",
                first_seen timestamptz,
                o_ended timestamptz, o_samples integer, o_app text COLLATE "C",
                o_version text COLLATE "C", o_is_system boolean,
                n_ended timestamptz, n_samples integer, n_app text COLLATE "C",
                n_version text COLLATE "C", n_is_system boolean,
                same boolean, grown boolean, lost boolean, extended boolean
            ) ON COMMIT DELETE ROWS;
        END IF;
        DELETE FROM sessions_pairs;  -- (a transaction's earlier statement's)
        INSERT INTO sessions_pairs
        SELECT coalesce(n.host, o.host), coalesce(n.user_name, o.user_name),
               coalesce(n.name, o.name), coalesce(n.first_seen, o.first_seen),
               o.ended, o.samples, o.app, o.version, o.is_system,
               n.ended, n.samples, n.app, n.version, n.is_system, k.same,
               n.host IS NOT NULL AND (NOT k.same
                                       OR usage_utc_day(o.ended - interval '1 microsecond')
                                          < usage_utc_day(n.ended - interval '1 microsecond')),
               o.host IS NOT NULL AND (NOT k.same OR n.ended < o.ended),
               o.host IS NOT NULL AND n.host IS NOT NULL
                   AND (o.app, o.is_system) = (n.app, n.is_system) AND o.ended <= n.ended
        FROM old_rows o
        FULL JOIN new_rows n
            ON (n.host, n.user_name, n.pid, n.name, n.first_seen)
               = (o.host, o.user_name, o.pid, o.name, o.first_seen)
        CROSS JOIN LATERAL (SELECT o.host IS NOT NULL AND n.host IS NOT NULL
                                   AND (o.app, o.version, o.is_system)
                                       IS NOT DISTINCT FROM (n.app, n.version, n.is_system)
                                   AS same) k;
        added := 'SELECT n_app, host, user_name,
                         CASE WHEN extended THEN o_ended ELSE first_seen END, n_ended
                  FROM pg_temp.sessions_pairs WHERE n_app <> '''' AND NOT n_is_system';
        IF EXISTS (SELECT FROM sessions_pairs p
                   WHERE p.o_app <> '' AND NOT p.o_is_system AND NOT p.extended) THEN
            removed := 'SELECT o_app, host, user_name, first_seen, o_ended
                        FROM pg_temp.sessions_pairs
                        WHERE o_app <> '''' AND NOT o_is_system AND NOT extended';
        END IF;
        -- A pair of the same app, version and system flag changes its counters in place; any
        -- other takes the old row's out and puts the new row's in.
        EXECUTE usage_versions_sql($c$
            SELECT first_seen, o_ended, n_ended, 0, o_samples, n_samples, o_app, name, o_version,
                   o_is_system
            FROM pg_temp.sessions_pairs WHERE same
            UNION ALL
            SELECT first_seen, o_ended, first_seen, -1, o_samples, 0, o_app, name, o_version,
                   o_is_system
            FROM pg_temp.sessions_pairs WHERE NOT same AND o_ended IS NOT NULL
            UNION ALL
            SELECT first_seen, first_seen, n_ended, 1, 0, n_samples, n_app, name, n_version,
                   n_is_system
            FROM pg_temp.sessions_pairs WHERE NOT same AND n_ended IS NOT NULL$c$);
        IF EXISTS (SELECT FROM sessions_pairs p WHERE p.grown) THEN
            grown := 'SELECT host, user_name, name, first_seen, n_ended AS ended, n_app AS app,
                             n_version AS version, n_is_system AS is_system
                      FROM pg_temp.sessions_pairs WHERE grown';
        END IF;
        IF EXISTS (SELECT FROM sessions_pairs p WHERE p.lost) THEN
            lost := 'SELECT host, user_name, name, first_seen, o_ended AS ended, o_app AS app,
                            o_version AS version, o_is_system AS is_system
                     FROM pg_temp.sessions_pairs WHERE lost';
        END IF;
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
    IF grown IS NOT NULL THEN
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
    IF lost IS NULL THEN
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
        CROSS JOIN LATERAL generate_series(usage_utc_day(l.first_seen),
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

-- One trigger per event for both rollups, in place of migration 0016's and 0025's: it fires
-- after sessions_concurrency_clear (same-event triggers fire in name order), as those did.
DROP TRIGGER sessions_concurrency_insert ON sessions;
DROP TRIGGER sessions_concurrency_delete ON sessions;
DROP TRIGGER sessions_concurrency_update ON sessions;
DROP TRIGGER sessions_concurrency_truncate ON sessions;
DROP TRIGGER sessions_versions_insert ON sessions;
DROP TRIGGER sessions_versions_delete ON sessions;
DROP TRIGGER sessions_versions_update ON sessions;
DROP TRIGGER sessions_versions_truncate ON sessions;
DROP FUNCTION concurrency_keep();
DROP FUNCTION usage_versions_keep();

CREATE TRIGGER sessions_rollups_insert AFTER INSERT ON sessions
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sessions_rollups_keep();
CREATE TRIGGER sessions_rollups_delete AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sessions_rollups_keep();
CREATE TRIGGER sessions_rollups_update AFTER UPDATE ON sessions
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION sessions_rollups_keep();
CREATE TRIGGER sessions_rollups_truncate AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION sessions_rollups_keep();
