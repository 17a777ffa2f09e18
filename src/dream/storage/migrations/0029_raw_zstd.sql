-- Single raw objects are written as zstd (raw_compression 'zstd', blobs/store.py); those written
-- before stay gzip. `dream pack-raw` packs singles of either compression: its partial index
-- (0008) covers both.
DROP INDEX snapshots_unpacked_idx;
CREATE INDEX snapshots_unpacked_idx ON snapshots (host, collected_at)
    WHERE raw_compression IN ('gzip', 'zstd');
