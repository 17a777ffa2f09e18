-- name: upsert_executables
-- One row per (host, path, sha256): sightings widen [first_seen, last_seen] and add users.
INSERT INTO executables AS e
    (host, path, sha256, os, app, faculty, size_bytes, signer, is_system, users, first_seen,
     last_seen)
SELECT host, path, sha256, os, app, faculty, size_bytes, signer, is_system, users, first_seen,
       last_seen
FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(
    host text, path text, sha256 text, os text, app text, faculty text, size_bytes bigint,
    signer text,
    is_system boolean, users text[], first_seen timestamptz, last_seen timestamptz)
ORDER BY host, path, sha256
ON CONFLICT (host, path, sha256) DO UPDATE SET
    os = EXCLUDED.os,
    faculty = EXCLUDED.faculty,
    signer = EXCLUDED.signer,
    is_system = EXCLUDED.is_system,
    users = ARRAY(SELECT DISTINCT u FROM unnest(e.users || EXCLUDED.users) AS u ORDER BY u),
    first_seen = LEAST(e.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(e.last_seen, EXCLUDED.last_seen);

-- name: clear_pending_executables
-- The direct pipeline's copies, written now (see migration 0013).
UPDATE snapshots SET executables = NULL
WHERE snapshot_id = ANY(%(ids)s::uuid[]) AND executables IS NOT NULL
