-- Named queries of dream.blobs (raw outputs: reprocess and gc). Each starts with "-- name: x".

-- name: reprocess_selection
-- The snapshots a run selects, after its checkpoint: {selection} in the two queries below.
FROM snapshots
WHERE status = ANY(%(statuses)s::text[])
  AND (%(since)s::timestamptz IS NULL OR collected_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR collected_at < %(until)s::timestamptz)
  AND (%(format)s::text IS NULL OR format = %(format)s::text)
  AND (%(after_at)s::timestamptz IS NULL
       OR (collected_at, snapshot_id) > (%(after_at)s::timestamptz, %(after_id)s::uuid))

-- name: reprocess_select
-- The next snapshots to re-parse, in (collected_at, snapshot_id) order after the checkpoint.
SELECT snapshot_id, host, os, os_version, user_name, faculty, collected_at, received_at, command,
       status, process_count, raw_sha256, raw_size, raw_compression, raw_url,
       raw_output IS NOT NULL AS has_raw_text
{selection}
ORDER BY collected_at, snapshot_id
LIMIT %(limit)s

-- name: reprocess_count
SELECT count(*) {selection}

-- name: reprocess_lock
-- Inside the rewrite transaction: the snapshot as it is now (a concurrent run waits here).
SELECT status, process_count, raw_sha256, raw_output IS NOT NULL AS has_raw_text, catalog
FROM snapshots
WHERE snapshot_id = %(snapshot_id)s
FOR UPDATE

-- name: reprocess_old_rows
-- What the snapshot contributed to the rollups: its current process rows (one partition).
SELECT app, is_system, cpu_percent, rss_kb
FROM processes
WHERE collected_at = %(collected_at)s AND snapshot_id = %(snapshot_id)s

-- name: reprocess_delete_rows
DELETE FROM processes
WHERE collected_at = %(collected_at)s AND snapshot_id = %(snapshot_id)s

-- name: reprocess_update_snapshot
UPDATE snapshots
SET status = %(status)s, format = %(format)s, process_count = %(process_count)s,
    warnings = %(warnings)s, error = %(error)s, skipped_rows = %(skipped_rows)s,
    skipped_count = %(skipped_count)s, catalog = %(catalog)s, stored_at = now(),
    raw_output = NULL, raw_sha256 = %(raw_sha256)s, raw_size = %(raw_size)s,
    raw_compression = %(raw_compression)s, raw_url = %(raw_url)s
WHERE snapshot_id = %(snapshot_id)s

-- name: raw_text
SELECT raw_output FROM snapshots WHERE snapshot_id = %(snapshot_id)s

-- name: checkpoint_get
SELECT run_key, finished_at, last_collected_at, last_snapshot_id, reprocessed
FROM reprocess_checkpoints
WHERE run_key = %(run_key)s

-- name: checkpoint_start
INSERT INTO reprocess_checkpoints (run_key, filters)
VALUES (%(run_key)s, %(filters)s)
ON CONFLICT (run_key) DO UPDATE
    SET filters = EXCLUDED.filters, started_at = now(), updated_at = now(), finished_at = NULL,
        last_collected_at = NULL, last_snapshot_id = NULL, reprocessed = 0

-- name: checkpoint_advance
UPDATE reprocess_checkpoints
SET last_collected_at = %(last_collected_at)s, last_snapshot_id = %(last_snapshot_id)s,
    reprocessed = reprocessed + %(reprocessed)s, updated_at = now()
WHERE run_key = %(run_key)s

-- name: checkpoint_finish
UPDATE reprocess_checkpoints SET finished_at = now(), updated_at = now()
WHERE run_key = %(run_key)s

-- name: gc_forget_expired
-- References (and pre-blob raw text) of final snapshots received before the cutoff.
UPDATE snapshots
SET raw_sha256 = NULL, raw_size = NULL, raw_compression = NULL, raw_url = NULL, raw_output = NULL
WHERE received_at < %(cutoff)s AND status <> 'pending'
  AND (raw_sha256 IS NOT NULL OR raw_output IS NOT NULL)

-- name: gc_referenced
-- Single objects still referenced (a packed snapshot keeps its sha256 but not the object).
SELECT DISTINCT raw_sha256 FROM snapshots
WHERE raw_sha256 = ANY(%(hashes)s::text[]) AND raw_compression IS DISTINCT FROM 'zstd-pack'

-- name: gc_packs_referenced
SELECT DISTINCT split_part(raw_url, '#', 1) FROM snapshots
WHERE raw_compression = 'zstd-pack' AND split_part(raw_url, '#', 1) = ANY(%(urls)s::text[])

-- name: pack_candidates
-- Final snapshots whose output is still a single object, collected before the cutoff: the
-- next hosts' worth, in (host, time) order (snapshots_unpacked_idx).
SELECT snapshot_id, host, collected_at, raw_sha256, raw_size, raw_compression, raw_url
FROM snapshots
WHERE raw_compression IN ('gzip', 'zstd') AND status <> 'pending' AND collected_at < %(cutoff)s
  AND (host, collected_at, snapshot_id) > (%(after_host)s, %(after_at)s, %(after_id)s::uuid)
ORDER BY host, collected_at, snapshot_id
LIMIT %(limit)s

-- name: pack_point
-- A snapshot now read from its pack; only if it still points at the object packed (a
-- reprocess in between wins, and its output stays where the reprocess put it).
UPDATE snapshots SET raw_compression = 'zstd-pack', raw_url = %(pack_url)s
WHERE snapshot_id = %(snapshot_id)s AND raw_url = %(single_url)s
