-- Each hour's distinct users beside its peaks in the concurrency timeline (migration 0016), so
-- that the k-anonymity floor judges a concurrency bucket on the users it aggregates without a
-- second question (docs/security.md, "The k-anonymity floor").
--
-- concurrency_hourly.people: per app and UTC hour, the users running the app at some instant
-- of the hour (a user's use is the union of its spans on every host), as a sorted array of
-- their names: a day's or week's distinct users are the union of its hours' arrays, exactly (a
-- count per hour could not be summed: one person in every hour of a day is one user of it).
-- Computed with the peaks, by concurrency_day, so the triggers, concurrency_refresh and the
-- readers' dirty days keep it as they keep the peaks; concurrency_day is redefined to return
-- it (its body otherwise as in 0016), and the hours stored are computed again.
SET LOCAL work_mem = '256MB';

ALTER TABLE concurrency_hourly ADD COLUMN people text[] COLLATE "C" NOT NULL DEFAULT '{}';

DROP FUNCTION concurrency_day(text, timestamptz);

CREATE FUNCTION concurrency_day(of_app text, of_day timestamptz)
RETURNS TABLE (hour timestamptz, peak_users integer, peak_hosts integer, users integer[],
               micros bigint[], people text[])
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
WITH pieces AS (
    SELECT s.host, s.user_name, r
    FROM concurrency_spans s CROSS JOIN LATERAL unnest(s.spans) r
    WHERE s.app = of_app AND s.day = of_day
), running AS (
    SELECT 'u'::"char" AS kind, user_name AS who, unnest(range_agg(r)) AS r
    FROM pieces GROUP BY user_name
    UNION ALL
    SELECT 'h'::"char", host, unnest(range_agg(r)) FROM pieces GROUP BY host
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
), present AS (
    -- The hours each user's use overlaps ([lower, upper): an end on the hour is not in it).
    SELECT h AS hour, array_agg(DISTINCT who ORDER BY who) AS people
    FROM running
    CROSS JOIN LATERAL generate_series(date_trunc('hour', lower(r), 'UTC'),
                                       upper(r) - interval '1 microsecond', interval '1 hour') h
    WHERE kind = 'u'
    GROUP BY h
)
SELECT c.hour,
       coalesce(max(c.n) FILTER (WHERE c.kind = 'u'), 0)::integer,
       coalesce(max(c.n) FILTER (WHERE c.kind = 'h'), 0)::integer,
       coalesce(array_agg(c.n ORDER BY c.n) FILTER (WHERE c.kind = 'u'), '{}'),
       coalesce(array_agg(c.micros ORDER BY c.n) FILTER (WHERE c.kind = 'u'), '{}'),
       coalesce(min(p.people), '{}')
FROM per_count c
LEFT JOIN present p USING (hour)
GROUP BY c.hour
ORDER BY c.hour;
END;

-- The hours stored, with their users: every (app, day) computed again from its spans.
DELETE FROM concurrency_hourly;
INSERT INTO concurrency_hourly
SELECT k.app, c.*
FROM (SELECT DISTINCT app, day FROM concurrency_spans) k
CROSS JOIN LATERAL concurrency_day(k.app, k.day) c;

ALTER TABLE concurrency_hourly ALTER COLUMN people DROP DEFAULT;

-- The hours stored now name users: a user's sessions deleted (an erasure, a reprocess), the
-- stored hours of every (app, day) those sessions touched go at once, in the same statement,
-- before concurrency_keep (same-event triggers fire in name order) marks those days dirty;
-- readers compute dirty days from their spans and concurrency_refresh stores them again, so
-- no stored hour keeps the name of a user whose sessions are gone.
CREATE FUNCTION concurrency_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM concurrency_hourly h
    USING (SELECT DISTINCT o.app, d AS day
           FROM old_rows o
           CROSS JOIN LATERAL generate_series(date_trunc('day', o.first_seen, 'UTC'),
                                              o.ended - interval '1 microsecond',
                                              interval '1 day', 'UTC') d
           WHERE o.app <> '' AND NOT o.is_system AND o.ended > o.first_seen) g
    WHERE h.app = g.app AND h.hour >= g.day AND h.hour < g.day + interval '24 hours';
    RETURN NULL;
END
$$;

CREATE TRIGGER sessions_concurrency_clear AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION concurrency_clear();
