-- Named queries of an erasure (dream.storage.erasure): every row of one user removed in one
-- transaction, and the rollups' touched keys rebuilt from what the others contributed (the
-- apps' rollups by migration 0024's functions). The
-- user is the pseudonym as stored, %(user)s. Each starts with "-- name: x".

-- name: open_erasure
SELECT id, user_name, requested_at, state, removed, blobs
FROM erasures
WHERE user_name = %(user)s AND state <> 'done'
ORDER BY id
LIMIT 1

-- name: get_erasure
SELECT id, user_name, requested_at, state, removed, blobs, finished_at
FROM erasures
WHERE id = %(id)s

-- name: erased_snapshot
SELECT erasure_id FROM erased_snapshots WHERE snapshot_id = %(snapshot_id)s

-- name: select_user_snapshots
-- The user's snapshots (pending ones too), kept for the statements below.
CREATE TEMP TABLE erase_snaps ON COMMIT DROP AS
SELECT snapshot_id, host, os, faculty, collected_at, status, raw_url, raw_compression, catalog
FROM snapshots
WHERE user_name = %(user)s

-- name: user_hosts
SELECT DISTINCT host FROM erase_snaps

-- name: delete_processes
DELETE FROM processes p
USING erase_snaps e
WHERE p.collected_at = e.collected_at AND p.snapshot_id = e.snapshot_id

-- name: delete_sessions
-- usage_hours_hourly follows by its statement triggers (migration 0011), and the rollups by
-- executable and version by theirs (migration 0025: the keys the user touched rebuilt from the
-- sessions left, a key with none deleted).
DELETE FROM sessions WHERE user_name = %(user)s

-- name: delete_usage_hours_daily
-- The user's hours per day; the keys they touched in the apps' table are rebuilt next.
CREATE TEMP TABLE erase_hours_keys ON COMMIT DROP AS
WITH gone AS (DELETE FROM usage_hours_daily WHERE user_name = %(user)s
              RETURNING bucket, app, os, faculty)
SELECT bucket, app, os, faculty, count(*) AS n FROM gone GROUP BY 1, 2, 3, 4

-- name: rebuild_hours_daily_apps
SELECT usage_apps_rebuild('usage_hours_daily_apps', 'usage_hours_daily',
                          array_agg(bucket), array_agg(app), array_agg(os), array_agg(faculty))
FROM erase_hours_keys

-- name: delete_usage_hourly
-- usage_hourly_apps and usage_presence_hourly follow by their statement triggers (migration
-- 0011); the counters' touched keys are then summed again (exact, not a float subtraction).
CREATE TEMP TABLE erase_hourly_keys ON COMMIT DROP AS
WITH gone AS (DELETE FROM usage_hourly WHERE user_name = %(user)s
              RETURNING bucket, app, os, faculty)
SELECT bucket, app, os, faculty, count(*) AS n FROM gone GROUP BY 1, 2, 3, 4

-- name: rebuild_hourly_apps
SELECT usage_apps_rebuild('usage_hourly_apps', 'usage_hourly',
                          array_agg(bucket), array_agg(app), array_agg(os), array_agg(faculty))
FROM erase_hourly_keys

-- name: delete_usage_daily
CREATE TEMP TABLE erase_daily ON COMMIT DROP AS
WITH gone AS (DELETE FROM usage_daily WHERE user_name = %(user)s
              RETURNING bucket, app, os, faculty, host)
SELECT bucket, app, os, faculty, host, count(*) AS n FROM gone GROUP BY 1, 2, 3, 4, 5

-- name: rebuild_daily_apps
SELECT usage_apps_rebuild('usage_daily_apps', 'usage_daily',
                          array_agg(bucket), array_agg(app), array_agg(os), array_agg(faculty))
FROM erase_daily

-- name: rollup_rows_removed
SELECT (SELECT coalesce(sum(n), 0) FROM erase_hourly_keys)::bigint AS usage_hourly,
       (SELECT coalesce(sum(n), 0) FROM erase_daily)::bigint AS usage_daily,
       (SELECT coalesce(sum(n), 0) FROM erase_hours_keys)::bigint AS usage_hours_daily

-- name: fill_presence_touched
-- The presence keys the user's days touched: theirs, and their hosts' (recomputed by the
-- rollups' rebuild_usage_presence from what is left in usage_daily, empty ones dropped).
INSERT INTO presence_touched
SELECT DISTINCT usage_block(e.bucket), e.app, e.os, e.faculty, w.dim, w.who
FROM erase_daily e
CROSS JOIN LATERAL (VALUES ('u'::"char", %(user)s::text), ('h'::"char", e.host)) w (dim, who)

-- name: forget_executables
-- The user leaves the executables' users; a file no one else was seen running goes.
WITH dropped AS (
    UPDATE executables SET users = array_remove(users, %(user)s)
    WHERE users @> ARRAY[%(user)s::text]
    RETURNING host, path, sha256, users
), gone AS (
    DELETE FROM executables x
    USING dropped d
    WHERE (x.host, x.path, x.sha256) = (d.host, d.path, d.sha256) AND d.users = '{}'
    RETURNING 1
)
SELECT (SELECT count(*) FROM dropped) AS updated, (SELECT count(*) FROM gone) AS deleted

-- name: delete_snapshots
-- The snapshots (their raw text kept inline too), their receipts, and their tombstones.
WITH receipts AS (
    DELETE FROM snapshot_receipts r USING erase_snaps e WHERE r.snapshot_id = e.snapshot_id
), gone AS (
    DELETE FROM snapshots s USING erase_snaps e WHERE s.snapshot_id = e.snapshot_id
    RETURNING s.snapshot_id
)
INSERT INTO erased_snapshots (snapshot_id, erasure_id)
SELECT snapshot_id, %(erasure_id)s FROM gone
ON CONFLICT (snapshot_id) DO NOTHING

-- name: clear_host_days
-- The host-days the user's final snapshots counted in, counted again from the snapshots left.
CREATE TEMP TABLE erase_host_days ON COMMIT DROP AS
WITH touched AS (
    SELECT DISTINCT date_trunc('day', collected_at, 'UTC') AS bucket, host, os, faculty
    FROM erase_snaps
    WHERE status <> 'pending'
), cleared AS (
    DELETE FROM host_days d
    USING touched t
    WHERE (d.bucket, d.host, d.os, d.faculty) = (t.bucket, t.host, t.os, t.faculty)
)
SELECT * FROM touched

-- name: uncount_catalog_days
-- The user's stored listings leave the count of the catalog that named them (migration 0026).
UPDATE catalog_days c SET snapshots = c.snapshots - e.n
FROM (SELECT date_trunc('day', collected_at, 'UTC') AS bucket, catalog, count(*) AS n
      FROM erase_snaps
      WHERE status = 'stored' AND catalog IS NOT NULL
      GROUP BY 1, 2) e
WHERE (c.bucket, c.catalog) = (e.bucket, e.catalog)

-- name: rebuild_host_days
INSERT INTO host_days
SELECT t.bucket, t.host, t.os, t.faculty, count(*), min(s.collected_at), max(s.collected_at),
       coalesce(sum(s.interval_s), 0), count(s.interval_s)
FROM erase_host_days t
JOIN snapshots s
  ON s.host = t.host AND s.os = t.os AND s.faculty = t.faculty AND s.status <> 'pending'
 AND s.collected_at >= t.bucket AND s.collected_at < t.bucket + interval '1 day'
GROUP BY 1, 2, 3, 4

-- name: user_blobs
-- The raw-output objects the user's snapshots pointed at (a pack by its object's URL).
SELECT DISTINCT split_part(raw_url, '#', 1) FROM erase_snaps WHERE raw_url IS NOT NULL

-- name: start_erasure
INSERT INTO erasures (user_name, state) VALUES (%(user)s, 'blobs') RETURNING id

-- name: record_erasure
UPDATE erasures SET removed = %(removed)s, blobs = %(blobs)s,
                    state = CASE WHEN cardinality(%(blobs)s::text[]) = 0 THEN 'done' ELSE state END,
                    finished_at = CASE WHEN cardinality(%(blobs)s::text[]) = 0 THEN now() END
WHERE id = %(id)s

-- name: blob_done
-- One object dealt with; the erasure is done once none is left.
UPDATE erasures SET blobs = array_remove(blobs, %(url)s),
                    state = CASE WHEN blobs = ARRAY[%(url)s::text] THEN 'done' ELSE state END,
                    finished_at = CASE WHEN blobs = ARRAY[%(url)s::text] THEN now() END
WHERE id = %(id)s

-- name: blob_readers
-- The snapshots still reading from an object (the erased user's are gone by now): a pack's
-- members, or those sharing a content-addressed single (same bytes, same object).
SELECT snapshot_id, raw_sha256, raw_size, raw_compression, raw_url
FROM snapshots
WHERE raw_compression = 'zstd-pack' AND split_part(raw_url, '#', 1) = %(url)s
UNION ALL
SELECT snapshot_id, raw_sha256, raw_size, raw_compression, raw_url
FROM snapshots
WHERE raw_sha256 = substring(%(url)s FROM '([0-9a-f]{64})[.][a-z]+$') AND raw_url = %(url)s
ORDER BY raw_url

-- name: repoint_member
-- A member moved to the pack rewritten without the erased user's outputs.
UPDATE snapshots SET raw_url = %(new_url)s
WHERE snapshot_id = %(snapshot_id)s AND raw_url = %(old_url)s

-- name: forget_fleet_snapshots
-- After delete_snapshots: the hosts' count of snapshots received loses the user's, and their
-- newest collected_at is the newest left (fleet health, migration 0018). When the api heard
-- from a machine and which agent it runs stay: they are the machine's, not the person's.
UPDATE fleet_hosts f
SET snapshots = greatest(0, f.snapshots - e.n),
    last_collected = coalesce((SELECT max(s.collected_at) FROM snapshots s WHERE s.host = f.host),
                              f.last_collected)
FROM (SELECT host, count(*) AS n FROM erase_snaps GROUP BY host) e
WHERE f.host = e.host
