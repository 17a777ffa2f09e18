-- name: insert_key
INSERT INTO api_keys (key_id, name, role, secret_sha256, dp_epsilon, dp_budget)
VALUES (%(key_id)s, %(name)s, %(role)s, %(secret_sha256)s, %(dp_epsilon)s, %(dp_budget)s)
ON CONFLICT (key_id) DO NOTHING
RETURNING key_id, name, role, created_at, revoked_at, last_used_at

-- name: get_key
SELECT key_id, name, role, secret_sha256, created_at, revoked_at, last_used_at, dp_epsilon,
       dp_budget
FROM api_keys
WHERE key_id = %(key_id)s

-- name: list_keys
SELECT key_id, name, role, created_at, revoked_at, last_used_at, dp_epsilon, dp_budget
FROM api_keys
ORDER BY created_at, key_id

-- name: revoke_key
UPDATE api_keys SET revoked_at = now()
WHERE key_id = %(key_id)s AND revoked_at IS NULL
RETURNING key_id

-- name: touch_key
UPDATE api_keys SET last_used_at = now()
WHERE key_id = %(key_id)s AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')

-- name: insert_audit
INSERT INTO audit_log (at, key_id, key_name, role, method, path, params, status, rows,
                       suppressed, duration_ms)
VALUES (%(at)s, %(key_id)s, %(key_name)s, %(role)s, %(method)s, %(path)s, %(params)s,
        %(status)s, %(rows)s, %(suppressed)s, %(duration_ms)s)

-- name: list_audit
-- A keyset page: entries after the cursor's id, optionally of one key and within [from, to).
SELECT id, at, key_id, key_name, role, method, path, params, status, rows, suppressed,
       duration_ms
FROM audit_log
WHERE id > %(after)s
  AND (%(key_id)s::text IS NULL OR key_id = %(key_id)s)
  AND (%(from)s::timestamptz IS NULL OR at >= %(from)s)
  AND (%(to)s::timestamptz IS NULL OR at < %(to)s)
ORDER BY id
LIMIT %(limit)s

-- name: prune_audit
DELETE FROM audit_log WHERE at < now() - make_interval(days => %(days)s)

-- name: list_optouts
SELECT kind, value, added_at FROM optouts ORDER BY kind, value

-- name: add_optout
INSERT INTO optouts (kind, value) VALUES (%(kind)s, %(value)s)
ON CONFLICT (kind, value) DO NOTHING

-- name: remove_optout
DELETE FROM optouts WHERE kind = %(kind)s AND value = %(value)s

-- name: spend_budget
-- A DP key's answer spends its epsilon of the month's budget, or nothing (no row) when that
-- would overspend it: one statement, so concurrent answers cannot together overspend.
INSERT INTO dp_spent AS d (key_id, period, spent)
SELECT %(key_id)s, %(period)s, %(epsilon)s WHERE %(epsilon)s <= %(budget)s
ON CONFLICT (key_id, period) DO UPDATE SET spent = d.spent + EXCLUDED.spent
    WHERE d.spent + EXCLUDED.spent <= %(budget)s * (1 + 1e-9)
RETURNING spent
