-- Named queries of the sessions' upkeep (dream.storage.sessions), run inside the write
-- transaction that made the snapshots final, and by a reprocess. Each starts with "-- name: x".
-- See migration 0007 for the tables and docs/analytics.md "Sessions and hours" for the rules.

-- name: lock_hosts
-- One writer at a time merges a host's sessions (two would each miss the other's sessions).
-- Taken in key order before anything else, so writers of overlapping hosts cannot deadlock
-- (the lock function is volatile: evaluated row by row after the sort). The two-key form does
-- not collide with the partition lock's one-key form.
SELECT count(pg_advisory_xact_lock(1146244435, k.key))
FROM (SELECT DISTINCT hashtext(h.host) AS key FROM unnest(%(hosts)s::text[]) AS h (host)
      ORDER BY 1 OFFSET 0) AS k

-- name: sessions_near
-- The stored sessions that may take in the batch's runs: per key, those still open (able to
-- take an observation) when its earliest run starts, begun no later than its last run reaches.
-- Found through the primary key (host, user_name, pid, name, first_seen <= until).
SELECT s.host, s.user_name, s.pid, s.name, s.first_seen, s.last_seen, s.cadence_s,
       s.open_until, s.os, s.faculty, s.app, s.is_system, s.process_user, s.samples,
       s.cpu_first, s.cpu_last, s.rss_peak_kb, s.version
-- The keys come as one JSON array of [host, user_name, pid, name, since, until] (binding six
-- arrays of tens of thousands of values costs the client several times more).
FROM (SELECT k ->> 0 AS host, k ->> 1 AS user_name, (k ->> 2)::integer AS pid, k ->> 3 AS name,
             (k ->> 4)::timestamptz AS since, (k ->> 5)::timestamptz AS until
      FROM jsonb_array_elements(%(keys)s::jsonb) AS j (k)) AS w
JOIN sessions s ON s.host = w.host AND s.user_name = w.user_name AND s.pid = w.pid
               AND s.name = w.name AND s.open_until >= w.since AND s.first_seen <= w.until

-- name: session_host_versions
-- Each host's version: a new one for every statement that writes its sessions (migration 0015).
-- Read under the host's lock: the writer's cache of open sessions is valid while it holds.
SELECT host, version FROM session_hosts WHERE host = ANY (%(hosts)s::text[])

-- name: host_open_sessions
-- Every stored session of each host still open (able to take an observation) at its time: what
-- the writer's cache holds of a host it has no valid entry for. Found through the primary key.
-- The columns are the Session's (storage/sessions.py SESSION_COLUMNS), filled in by the writer.
SELECT {columns}
FROM unnest(%(hosts)s::text[], %(since)s::timestamptz[]) AS w (host, since)
JOIN sessions s ON s.host = w.host AND s.open_until >= w.since

-- name: copy_sessions
-- Sessions under keys no stored session has (the writer holds the host's lock: none appears).
-- With their `ended` (the sessions_ended trigger corrects it where it differs: migration 0012).
COPY sessions (host, user_name, pid, name, first_seen, last_seen, cadence_s, open_until, os,
               faculty, app, is_system, process_user, samples, cpu_first, cpu_last,
               rss_peak_kb, version, ended) FROM STDIN

-- name: create_session_stage
-- Built from a query, not LIKE, so it takes the columns without their NOT NULL: `ended` is
-- left to the sessions table's trigger (migration 0009).
CREATE TEMP TABLE IF NOT EXISTS session_stage ON COMMIT DELETE ROWS AS
SELECT * FROM sessions WITH NO DATA

-- name: copy_session_stage
COPY session_stage (host, user_name, pid, name, first_seen, last_seen, cadence_s, open_until, os,
                    faculty, app, is_system, process_user, samples, cpu_first, cpu_last,
                    rss_peak_kb, version) FROM STDIN

-- name: update_sessions
-- Sessions extended at their end (or in their middle) keep their key: updated in place.
-- `ended` as the sessions_ended trigger computes it, which then does not run (migration 0012).
UPDATE sessions AS s
SET last_seen = g.last_seen, cadence_s = g.cadence_s, open_until = g.open_until,
    ended = g.last_seen + g.cadence_s * interval '1 second', os = g.os,
    faculty = g.faculty, app = g.app, is_system = g.is_system, process_user = g.process_user,
    samples = g.samples, cpu_first = g.cpu_first, cpu_last = g.cpu_last,
    rss_peak_kb = g.rss_peak_kb, version = g.version
FROM session_stage AS g
WHERE s.host = g.host AND s.user_name = g.user_name AND s.pid = g.pid AND s.name = g.name
  AND s.first_seen = g.first_seen

-- name: delete_sessions
-- Sessions merged into others under another key (a late observation moved the start earlier,
-- or bridged two sessions), or taken out by a reprocess.
DELETE FROM sessions s
USING unnest(%(host)s::text[], %(user_name)s::text[], %(pid)s::integer[], %(name)s::text[],
             %(first_seen)s::timestamptz[]) AS g (host, user_name, pid, name, first_seen)
WHERE s.host = g.host AND s.user_name = g.user_name AND s.pid = g.pid AND s.name = g.name
  AND s.first_seen = g.first_seen

-- name: create_hours_stage
CREATE TEMP TABLE IF NOT EXISTS hours_stage (LIKE usage_hours_daily) ON COMMIT DELETE ROWS

-- name: copy_hours_stage
COPY hours_stage (bucket, app, os, faculty, user_name, host, seconds, launches, u_seconds,
                  u_launches) FROM STDIN

-- name: upsert_hours
-- Adds the changes (replaced sessions out, merged ones in). Its rows are the host's (the
-- writer holds the host's lock), so no order is needed against other writers.
INSERT INTO usage_hours_daily AS r
SELECT * FROM hours_stage
ON CONFLICT (bucket, app, os, faculty, user_name, host) DO UPDATE SET
    seconds = r.seconds + EXCLUDED.seconds, launches = r.launches + EXCLUDED.launches,
    u_seconds = r.u_seconds + EXCLUDED.u_seconds, u_launches = r.u_launches + EXCLUDED.u_launches

-- name: upsert_hours_apps
-- The same changes summed over users and hosts. These rows are shared with other writers (of
-- other hosts): taken in key order, so two writers cannot deadlock.
INSERT INTO usage_hours_daily_apps AS r
SELECT bucket, app, os, faculty, sum(seconds), sum(launches), sum(u_seconds), sum(u_launches)
FROM hours_stage
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
ON CONFLICT (bucket, app, os, faculty) DO UPDATE SET
    seconds = r.seconds + EXCLUDED.seconds, launches = r.launches + EXCLUDED.launches,
    u_seconds = r.u_seconds + EXCLUDED.u_seconds, u_launches = r.u_launches + EXCLUDED.u_launches

-- name: drop_empty_hours_apps
DELETE FROM usage_hours_daily_apps d
USING (SELECT DISTINCT bucket, app, os, faculty FROM hours_stage) s
WHERE d.bucket = s.bucket AND d.app = s.app AND d.os = s.os AND d.faculty = s.faculty
  AND d.launches = 0 AND d.seconds = 0

-- name: drop_empty_hours
-- Rows no session contributes to any more. The seconds are sums of multiples of 2^-10, exact in
-- double precision, so "nothing" is exactly 0.
DELETE FROM usage_hours_daily d
USING hours_stage s
WHERE d.bucket = s.bucket AND d.app = s.app AND d.os = s.os AND d.faculty = s.faculty
  AND d.user_name = s.user_name AND d.host = s.host AND d.launches = 0 AND d.seconds = 0

-- name: hours_hourly_by
-- 'writer' while the writer runs its statements on sessions: usage_hours_hourly's triggers then
-- do not fire, the writer adds those changes itself (fold_hours_hourly; migration 0023). Back to
-- '' after them, so any later statement of the transaction is the triggers' again.
SELECT set_config('dream.hours_hourly_by', %(by)s, true)

-- name: create_hours_hourly_stage
CREATE TEMP TABLE IF NOT EXISTS hours_hourly_stage (LIKE usage_hours_hourly) ON COMMIT DELETE ROWS

-- name: copy_hours_hourly_stage
COPY hours_hourly_stage (bucket, app, os, faculty, seconds, launches, u_seconds, u_launches)
FROM STDIN

-- name: fold_hours_hourly
-- The writer's changes to usage_hours_hourly, folded with the rows of the keys they touch as
-- the triggers fold theirs (migration 0011's usage_hours_hourly_sql, after its `delta`): rows
-- another transaction is folding are skipped (SKIP LOCKED), a key may hold a few rows for a
-- while and readers sum them; a key summing to nothing keeps no row.
WITH folded AS (
    DELETE FROM usage_hours_hourly u
    WHERE u.ctid = ANY (ARRAY(
        SELECT x.ctid FROM usage_hours_hourly x
        JOIN hours_hourly_stage d
            ON (d.bucket, d.app, d.os, d.faculty) = (x.bucket, x.app, x.os, x.faculty)
        FOR UPDATE OF x SKIP LOCKED))
    RETURNING u.*
)
INSERT INTO usage_hours_hourly
SELECT bucket, app, os, faculty, sum(seconds), sum(launches), sum(u_seconds), sum(u_launches)
FROM (SELECT * FROM hours_hourly_stage UNION ALL SELECT * FROM folded) t
GROUP BY 1, 2, 3, 4
HAVING sum(seconds) <> 0 OR sum(launches) <> 0 OR sum(u_seconds) <> 0 OR sum(u_launches) <> 0
ORDER BY 1, 2, 3, 4
