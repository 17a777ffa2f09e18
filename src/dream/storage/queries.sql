-- Named queries used by dream.storage. Each starts with a "-- name: <name>" line; the text up to
-- the next such line is the query. Values are always bound as parameters.

-- name: insert_pending_snapshot
-- The direct pipeline's hand-over: the snapshot is durable once this commits.
INSERT INTO snapshots (snapshot_id, host, os, os_version, user_name, faculty, collected_at,
                       received_at, command, raw_output, status)
VALUES (%(snapshot_id)s, %(host)s, %(os)s, %(os_version)s, %(user_name)s, %(faculty)s,
        %(collected_at)s, %(received_at)s, %(command)s, %(raw_output)s, 'pending')
ON CONFLICT (snapshot_id) DO NOTHING

-- name: upsert_processed_snapshot
-- Inserts a processed snapshot, or completes a pending one. Returns a row only when this call
-- made the snapshot final, so a replayed message writes no process rows twice.
INSERT INTO snapshots AS s (snapshot_id, host, os, os_version, user_name, faculty, collected_at,
                            received_at, command, raw_output, status, format, process_count,
                            warnings, error, stored_at)
VALUES (%(snapshot_id)s, %(host)s, %(os)s, %(os_version)s, %(user_name)s, %(faculty)s,
        %(collected_at)s, %(received_at)s, %(command)s, %(raw_output)s, %(status)s, %(format)s,
        %(process_count)s, %(warnings)s, %(error)s, now())
ON CONFLICT (snapshot_id) DO UPDATE
    SET status = EXCLUDED.status, format = EXCLUDED.format,
        process_count = EXCLUDED.process_count, warnings = EXCLUDED.warnings,
        error = EXCLUDED.error, stored_at = EXCLUDED.stored_at
    WHERE s.status = 'pending'
RETURNING snapshot_id

-- name: get_snapshot
SELECT snapshot_id, host, os, os_version, user_name, faculty, collected_at, received_at, command,
       status, format, process_count, warnings, error, stored_at
FROM snapshots
WHERE snapshot_id = %(snapshot_id)s

-- name: fetch_pending_snapshots
SELECT snapshot_id, host, os, os_version, user_name, faculty, collected_at, received_at, command,
       raw_output
FROM snapshots
WHERE status = 'pending' AND snapshot_id <> ALL(%(exclude)s::uuid[])
ORDER BY received_at
LIMIT %(limit)s

-- name: snapshot_processes
-- A snapshot's process rows. collected_at narrows the scan to one partition.
SELECT pid, ppid, process_user AS user, name, command, app, is_system, cpu_percent, mem_percent,
       rss_kb, vsz_kb, state, tty, started, cpu_seconds, threads, session, session_name, status,
       window_title
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
