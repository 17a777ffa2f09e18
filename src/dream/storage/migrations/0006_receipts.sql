-- Receipts: which snapshots an api replica accepted into Kafka, so GET /v1/snapshots/{id}
-- answers `pending` from any replica before the worker stores the snapshot. Written
-- best-effort off the request path (ingestion never waits on PostgreSQL); pruned after 7 days.
CREATE TABLE snapshot_receipts (
    snapshot_id  uuid        PRIMARY KEY,
    received_at  timestamptz NOT NULL,
    host         text        NOT NULL
);
CREATE INDEX snapshot_receipts_received_idx ON snapshot_receipts (received_at);
