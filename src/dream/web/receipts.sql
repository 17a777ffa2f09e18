-- Receipts of accepted snapshots (dream/web/receipts.py), so any api replica can answer `pending`.

-- name: insert_receipts
INSERT INTO snapshot_receipts (snapshot_id, received_at, host)
SELECT * FROM unnest(%s::uuid[], %s::timestamptz[], %s::text[])
ON CONFLICT (snapshot_id) DO NOTHING

-- name: prune_receipts
DELETE FROM snapshot_receipts WHERE received_at < now() - interval '7 days'

-- name: lookup_receipt
SELECT 1 FROM snapshot_receipts WHERE snapshot_id = %s
