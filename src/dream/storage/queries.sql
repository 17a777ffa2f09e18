-- Named queries used by dream.storage. Each starts with a "-- name: <name>" line; the text up to
-- the next such line is the query. Values are always bound as parameters.

-- name: insert_pending_snapshot
-- The direct pipeline's hand-over: the snapshot is durable once this commits.
INSERT INTO snapshots (snapshot_id, host, os, os_version, user_name, faculty, collected_at,
                       received_at, command, interval_s, raw_output, raw_sha256, raw_size,
                       raw_compression, raw_url, executables, status)
VALUES (%(snapshot_id)s, %(host)s, %(os)s, %(os_version)s, %(user_name)s, %(faculty)s,
        %(collected_at)s, %(received_at)s, %(command)s, %(interval_s)s, %(raw_output)s,
        %(raw_sha256)s, %(raw_size)s, %(raw_compression)s, %(raw_url)s, %(executables)s,
        'pending')
ON CONFLICT (snapshot_id) DO NOTHING

-- name: upsert_processed_snapshot
-- Inserts a processed snapshot, or completes a pending one. Returns a row only when this call
-- made the snapshot final, so a replayed message writes no process rows twice.
-- The raw output is a blob reference (raw_*); raw_output (the direct queue's copy) is cleared.
INSERT INTO snapshots AS s (snapshot_id, host, os, os_version, user_name, faculty, collected_at,
                            received_at, command, interval_s, raw_output, raw_sha256, raw_size,
                            raw_compression, raw_url, status, format, process_count,
                            warnings, error, skipped_rows, skipped_count, catalog, stored_at)
VALUES (%(snapshot_id)s, %(host)s, %(os)s, %(os_version)s, %(user_name)s, %(faculty)s,
        %(collected_at)s, %(received_at)s, %(command)s, %(interval_s)s, %(raw_output)s,
        %(raw_sha256)s, %(raw_size)s, %(raw_compression)s, %(raw_url)s, %(status)s, %(format)s,
        %(process_count)s, %(warnings)s, %(error)s, %(skipped_rows)s, %(skipped_count)s,
        %(catalog)s, now())
ON CONFLICT (snapshot_id) DO UPDATE
    SET status = EXCLUDED.status, format = EXCLUDED.format,
        process_count = EXCLUDED.process_count, warnings = EXCLUDED.warnings,
        error = EXCLUDED.error, stored_at = EXCLUDED.stored_at,
        skipped_rows = EXCLUDED.skipped_rows, skipped_count = EXCLUDED.skipped_count,
        catalog = EXCLUDED.catalog, raw_output = EXCLUDED.raw_output, raw_sha256 = EXCLUDED.raw_sha256,
        raw_size = EXCLUDED.raw_size, raw_compression = EXCLUDED.raw_compression,
        raw_url = EXCLUDED.raw_url,
        -- the worker's copies are the PII-scrubbed ones
        user_name = EXCLUDED.user_name, command = EXCLUDED.command
    WHERE s.status = 'pending'
RETURNING snapshot_id

-- name: get_snapshot
SELECT snapshot_id, host, os, os_version, user_name, faculty, collected_at, received_at, command,
       status, format, process_count, warnings, error, skipped_rows, skipped_count, stored_at
FROM snapshots
WHERE snapshot_id = %(snapshot_id)s

-- name: fetch_pending_ids
-- The oldest pending snapshots: at most %(limit)s, and no more than %(max_bytes)s of output in
-- all (the first always, whatever its size), so a batch's memory is bounded by bytes. The
-- running sum reads sizes only (raw_size, or the TOAST header of raw_output), not the outputs.
WITH chosen AS (
    SELECT snapshot_id, received_at, sum(coalesce(raw_size, octet_length(raw_output), 0))
               OVER (ORDER BY received_at, snapshot_id) AS upto,
           row_number() OVER (ORDER BY received_at, snapshot_id) AS n
    FROM snapshots
    WHERE status = 'pending' AND snapshot_id <> ALL(%(exclude)s::uuid[])
    ORDER BY received_at, snapshot_id
    LIMIT %(limit)s
)
SELECT snapshot_id FROM chosen WHERE n = 1 OR upto <= %(max_bytes)s ORDER BY received_at, snapshot_id

-- name: fetch_pending_snapshots
-- The pending snapshots among %(ids)s (chosen by fetch_pending_ids), oldest first.
SELECT snapshot_id, host, os, os_version, user_name, faculty, collected_at, received_at, command,
       interval_s, raw_output, raw_sha256, raw_size, raw_compression, raw_url, executables
FROM snapshots
WHERE status = 'pending' AND snapshot_id = ANY(%(ids)s::uuid[])
ORDER BY received_at, snapshot_id

-- name: fail_pending_snapshot
-- A pending snapshot that can never be stored: final, with the reason (its output stays).
UPDATE snapshots
SET status = 'failed', error = %(error)s, stored_at = now()
WHERE snapshot_id = %(snapshot_id)s AND status = 'pending'

-- name: snapshot_processes
-- A snapshot's process rows. collected_at narrows the scan to one partition.
SELECT pid, ppid, process_user AS user, name, command, app, is_system, cpu_percent, mem_percent,
       rss_kb, vsz_kb, state, tty, started, cpu_seconds, threads, session, session_name, status,
       window_title, version
FROM processes
WHERE snapshot_id = %(snapshot_id)s AND collected_at = %(collected_at)s
ORDER BY pid NULLS LAST
LIMIT %(limit)s

-- name: existing_partitions
SELECT c.relname
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_class p ON p.oid = i.inhparent
WHERE p.relname = 'processes'

-- name: ping
SELECT 1

-- name: snapshot_counts
-- What `dream status` reports of the snapshots: how many stored, pending and failed, and when
-- the last was stored.
SELECT count(*) FILTER (WHERE status = 'stored') AS stored,
       count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       max(stored_at) AS last_stored_at
FROM snapshots

-- name: get_snapshot_raw
-- Where a snapshot's raw output is: a blob reference, or (rows from before 0004, pending rows of
-- the direct pipeline) the text itself.
SELECT snapshot_id, status, raw_sha256, raw_size, raw_compression, raw_url,
       raw_output IS NOT NULL AS has_raw_text
FROM snapshots
WHERE snapshot_id = %(snapshot_id)s

-- name: get_snapshot_raw_text
SELECT raw_output FROM snapshots WHERE snapshot_id = %(snapshot_id)s
