-- The executables question (GET /v1/analytics/executables): executables' facts as stored by
-- dream.storage.executables, one row per (host, path, sha256). A file is a (path, sha256): it
-- counts once however many hosts have it. {filters}: AND-ed conditions on the rows.

-- name: executables_files
SELECT path, sha256, min(app) AS app, min(size_bytes) AS size_bytes, min(signer) AS signer,
       count(DISTINCT e.host) AS hosts, count(DISTINCT u.user_name) AS users
FROM executables AS e
LEFT JOIN LATERAL unnest(e.users) AS u(user_name) ON true
WHERE e.last_seen >= %(start)s AND e.first_seen < %(end)s {filters}
GROUP BY path, sha256

-- name: executables_summary
SELECT count(*) AS files,
       avg(size_bytes)::float8 AS avg_size_bytes,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY size_bytes) AS median_size_bytes,
       COALESCE(sum(size_bytes), 0)::bigint AS total_size_bytes,
       (sum(size_bytes * hosts) / NULLIF(sum(hosts), 0))::float8 AS avg_size_bytes_per_host
FROM ({files}) AS f

-- name: executables_items
SELECT path, sha256, app, size_bytes, signer, hosts, users
FROM ({files}) AS f
ORDER BY hosts DESC, size_bytes DESC, path COLLATE "C", sha256
LIMIT %(limit)s

-- name: executables_filter_user
AND %(user)s = ANY (e.users)

-- name: executables_filter_not_system
AND NOT e.is_system
