-- Named queries of the usage rollups' upkeep (dream.storage.rollups), run inside the write
-- transaction that COPYs the process rows, and by a reprocess. Each starts with "-- name: x".
-- The analytics read side answers from these tables; it never writes them.
--
-- Rollup rows carry counters twice: over all processes and, prefixed u_, over non-system ones.

-- name: create_usage_stage
-- Where a write transaction COPYs its hourly rollup rows before adding them to both tables.
CREATE TEMP TABLE IF NOT EXISTS usage_stage (LIKE usage_hourly) ON COMMIT DELETE ROWS

-- name: copy_usage_stage
COPY usage_stage (bucket, app, os, faculty, user_name, host, snapshots, processes, cpu_sum,
                  cpu_n, rss_sum, rss_n, u_snapshots, u_processes, u_cpu_sum, u_cpu_n,
                  u_rss_sum, u_rss_n) FROM STDIN

-- name: add_counters
-- The SET list of the upserts below: each counter plus the new row's.
snapshots = r.snapshots + EXCLUDED.snapshots, processes = r.processes + EXCLUDED.processes,
cpu_sum = r.cpu_sum + EXCLUDED.cpu_sum, cpu_n = r.cpu_n + EXCLUDED.cpu_n,
rss_sum = r.rss_sum + EXCLUDED.rss_sum, rss_n = r.rss_n + EXCLUDED.rss_n,
u_snapshots = r.u_snapshots + EXCLUDED.u_snapshots,
u_processes = r.u_processes + EXCLUDED.u_processes,
u_cpu_sum = r.u_cpu_sum + EXCLUDED.u_cpu_sum, u_cpu_n = r.u_cpu_n + EXCLUDED.u_cpu_n,
u_rss_sum = r.u_rss_sum + EXCLUDED.u_rss_sum, u_rss_n = r.u_rss_n + EXCLUDED.u_rss_n

-- name: upsert_usage_hourly
-- In key order, so concurrent writers lock shared rows in the same order (no deadlocks).
INSERT INTO usage_hourly AS r
SELECT * FROM usage_stage
ORDER BY bucket, app, os, faculty, user_name, host
ON CONFLICT (bucket, app, os, faculty, user_name, host) DO UPDATE SET
    {add_counters}

-- name: upsert_usage_daily
INSERT INTO usage_daily AS r
SELECT date_trunc('day', bucket, 'UTC') AS day, app, os, faculty, user_name, host,
       sum(snapshots), sum(processes), sum(cpu_sum), sum(cpu_n), sum(rss_sum), sum(rss_n),
       sum(u_snapshots), sum(u_processes), sum(u_cpu_sum), sum(u_cpu_n), sum(u_rss_sum),
       sum(u_rss_n)
FROM usage_stage
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT (bucket, app, os, faculty, user_name, host) DO UPDATE SET
    {add_counters}

-- name: upsert_usage_daily_apps
INSERT INTO usage_daily_apps AS r
SELECT date_trunc('day', bucket, 'UTC') AS day, app, os, faculty,
       sum(snapshots), sum(processes), sum(cpu_sum), sum(cpu_n), sum(rss_sum), sum(rss_n),
       sum(u_snapshots), sum(u_processes), sum(u_cpu_sum), sum(u_cpu_n), sum(u_rss_sum),
       sum(u_rss_n)
FROM usage_stage
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4
ON CONFLICT (bucket, app, os, faculty) DO UPDATE SET
    {add_counters}

-- name: upsert_usage_presence
-- Sets the bits of the stage's days (only ever adds: see rebuild_usage_presence for removal).
INSERT INTO usage_presence AS r
SELECT usage_block(s.bucket), s.app, s.os, s.faculty, w.dim, w.who,
       coalesce(bit_or(usage_day_bit(s.bucket)) FILTER (WHERE s.snapshots > 0), 0),
       coalesce(bit_or(usage_day_bit(s.bucket)) FILTER (WHERE s.u_snapshots > 0), 0)
FROM usage_stage s
CROSS JOIN LATERAL (VALUES ('u'::"char", s.user_name), ('h'::"char", s.host)) w (dim, who)
WHERE s.snapshots > 0
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT (block, app, os, faculty, dim, who) DO UPDATE SET
    days = r.days | EXCLUDED.days, u_days = r.u_days | EXCLUDED.u_days
-- Usually the bits are set already (the same user ran the same app earlier that day): then
-- the row is left as it is, no new row version written.
WHERE (r.days | EXCLUDED.days, r.u_days | EXCLUDED.u_days) <> (r.days, r.u_days)

-- name: create_presence_touched
CREATE TEMP TABLE IF NOT EXISTS presence_touched (
    block integer, app text COLLATE "C", os text COLLATE "C", faculty text COLLATE "C",
    dim "char", who text COLLATE "C"
) ON COMMIT DELETE ROWS

-- name: fill_presence_touched
INSERT INTO presence_touched
SELECT DISTINCT usage_block(s.bucket), s.app, s.os, s.faculty, w.dim, w.who
FROM usage_stage s
CROSS JOIN LATERAL (VALUES ('u'::"char", s.user_name), ('h'::"char", s.host)) w (dim, who)

-- name: rebuild_usage_presence
-- The presence of the touched keys, recomputed from usage_daily: after a reprocess subtracted
-- counters a bit may have to be cleared, which the OR of upsert_usage_presence cannot do. A
-- key nothing contributes to any more gets days = 0 here and is dropped next.
INSERT INTO usage_presence AS r
SELECT t.block, t.app, t.os, t.faculty, t.dim, t.who,
       coalesce(bit_or(usage_day_bit(d.bucket)) FILTER (WHERE d.snapshots > 0), 0),
       coalesce(bit_or(usage_day_bit(d.bucket)) FILTER (WHERE d.u_snapshots > 0), 0)
FROM presence_touched t
LEFT JOIN usage_daily d
       ON d.bucket >= to_timestamp(t.block * 64 * 86400::float8)
      AND d.bucket < to_timestamp((t.block + 1) * 64 * 86400::float8)
      AND d.app = t.app AND d.os = t.os AND d.faculty = t.faculty
      AND (CASE t.dim WHEN 'u' THEN d.user_name ELSE d.host END) = t.who
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT (block, app, os, faculty, dim, who) DO UPDATE SET
    days = EXCLUDED.days, u_days = EXCLUDED.u_days

-- name: drop_empty_presence
DELETE FROM usage_presence p
USING presence_touched t
WHERE p.block = t.block AND p.app = t.app AND p.os = t.os AND p.faculty = t.faculty
  AND p.dim = t.dim AND p.who = t.who AND p.days = 0

-- name: drop_empty_hourly
-- Rows a reprocess emptied (no snapshot contributes any more), among the keys it touched.
DELETE FROM usage_hourly h
USING usage_stage s
WHERE h.bucket = s.bucket AND h.app = s.app AND h.os = s.os AND h.faculty = s.faculty
  AND h.user_name = s.user_name AND h.host = s.host AND h.snapshots <= 0

-- name: drop_empty_daily
DELETE FROM usage_daily d
USING (SELECT DISTINCT date_trunc('day', bucket, 'UTC') AS bucket, app, os, faculty, user_name,
              host
       FROM usage_stage) s
WHERE d.bucket = s.bucket AND d.app = s.app AND d.os = s.os AND d.faculty = s.faculty
  AND d.user_name = s.user_name AND d.host = s.host AND d.snapshots <= 0

-- name: drop_empty_daily_apps
DELETE FROM usage_daily_apps d
USING (SELECT DISTINCT date_trunc('day', bucket, 'UTC') AS bucket, app, os, faculty
       FROM usage_stage) s
WHERE d.bucket = s.bucket AND d.app = s.app AND d.os = s.os AND d.faculty = s.faculty
  AND d.snapshots <= 0

-- name: upsert_host_days
-- Coverage (migration 0009): the snapshots a write made final (stored or failed), per host and
-- UTC day, as one JSON array of [day, host, os, faculty, snapshots, first_at, last_at,
-- declared_sum, declared_n]. The rows are the writer's hosts' (it holds their locks).
INSERT INTO host_days AS r
SELECT (k ->> 0)::timestamptz, k ->> 1, k ->> 2, k ->> 3, (k ->> 4)::integer,
       (k ->> 5)::timestamptz, (k ->> 6)::timestamptz, (k ->> 7)::float8, (k ->> 8)::integer
FROM jsonb_array_elements(%(days)s::jsonb) AS j (k)
ON CONFLICT (bucket, host, os, faculty) DO UPDATE SET
    snapshots = r.snapshots + EXCLUDED.snapshots, first_at = least(r.first_at, EXCLUDED.first_at),
    last_at = greatest(r.last_at, EXCLUDED.last_at),
    declared_sum = r.declared_sum + EXCLUDED.declared_sum,
    declared_n = r.declared_n + EXCLUDED.declared_n

-- name: upsert_catalog_days
-- Which catalog named the stored listings (migration 0026): per UTC day and catalog version,
-- as one JSON array of [day, catalog, listings] (negative: a reprocess moved them elsewhere).
INSERT INTO catalog_days AS r
SELECT (k ->> 0)::timestamptz, k ->> 1, (k ->> 2)::bigint
FROM jsonb_array_elements(%(days)s::jsonb) AS j (k)
ORDER BY 1, 2
ON CONFLICT (bucket, catalog) DO UPDATE SET snapshots = r.snapshots + EXCLUDED.snapshots

-- name: drop_empty_catalog_days
-- A catalog version that names no stored listing of its day any more (a reprocess moved them).
DELETE FROM catalog_days WHERE snapshots <= 0
