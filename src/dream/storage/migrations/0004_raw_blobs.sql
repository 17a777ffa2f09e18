-- Raw outputs move to the blob store (dream/blobs/): the snapshot row keeps only the reference.
-- raw_output stays for the direct pipeline's pending rows (PostgreSQL is the queue there) and
-- for rows written before this migration; the worker clears it when it makes a snapshot final.
ALTER TABLE snapshots
    ADD COLUMN raw_sha256      text CHECK (raw_sha256 ~ '^[0-9a-f]{64}$'),
    ADD COLUMN raw_size        bigint,
    ADD COLUMN raw_compression text,
    ADD COLUMN raw_url         text;

-- gc: "is this object still referenced?", and "which references are past retention?".
CREATE INDEX snapshots_raw_sha256_idx ON snapshots (raw_sha256) WHERE raw_sha256 IS NOT NULL;
CREATE INDEX snapshots_raw_received_idx ON snapshots (received_at) WHERE raw_sha256 IS NOT NULL;

-- `dream reprocess`: where an interrupted run stopped, per set of filters (its run key). Updated
-- in the transaction that rewrites each batch, so a resumed run neither skips nor repeats one.
CREATE TABLE reprocess_checkpoints (
    run_key          text        PRIMARY KEY,
    filters          jsonb       NOT NULL,
    started_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    last_collected_at timestamptz,
    last_snapshot_id uuid,
    reprocessed      bigint      NOT NULL DEFAULT 0
);
