-- Named queries of a reprocess's session rebuild (dream.storage.rebuild), run inside its batch
-- transaction under the hosts' locks. Each starts with "-- name: x".

-- name: host_sessions_overlapping
-- The host's sessions that hold an observation in [since, until].
SELECT host, user_name, pid, name, first_seen, last_seen, cadence_s, open_until, os, faculty,
       app, is_system, process_user, samples, cpu_first, cpu_last, rss_peak_kb, version
FROM sessions
WHERE host = %(host)s AND open_until >= %(since)s AND first_seen <= %(until)s

-- name: host_snapshots
-- The host's stored snapshots in [since, until]: what an observation row needs of them, their
-- process count (to tell whether their per-sample rows are all still kept) and their raw output's
-- reference (to re-parse those whose rows are not).
SELECT snapshot_id, host, os, os_version, user_name, faculty, collected_at, received_at, command,
       interval_s, status, process_count, raw_sha256, raw_size, raw_compression, raw_url,
       raw_output IS NOT NULL AS has_raw_text
FROM snapshots
WHERE host = %(host)s AND status = 'stored'
  AND collected_at >= %(since)s AND collected_at <= %(until)s

-- name: host_observation_rows
-- The per-sample rows still kept of the host's stored snapshots in [since, until].
SELECT p.snapshot_id, p.pid, p.name, p.app, p.is_system, p.process_user, p.cpu_seconds, p.rss_kb,
       p.version
FROM snapshots s
JOIN processes p ON p.snapshot_id = s.snapshot_id AND p.collected_at = s.collected_at
WHERE s.host = %(host)s AND s.status = 'stored'
  AND s.collected_at >= %(since)s AND s.collected_at <= %(until)s
