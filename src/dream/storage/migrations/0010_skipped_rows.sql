-- No row lost in silence: the lines a parser could not read, kept with the snapshot so that
-- GET /v1/snapshots/{id} shows them. skipped_rows holds the first 1,000 of them as
-- [{"line": n, "reason": "..."}] (one garbage upload must not bloat its row); skipped_count
-- says how many there were in all.
ALTER TABLE snapshots
    ADD COLUMN skipped_rows jsonb NOT NULL DEFAULT '[]'
        CONSTRAINT snapshots_skipped_rows_check CHECK (jsonb_typeof(skipped_rows) = 'array'),
    ADD COLUMN skipped_count integer NOT NULL DEFAULT 0
        CONSTRAINT snapshots_skipped_count_check CHECK (skipped_count >= 0);
