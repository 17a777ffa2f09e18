-- Packs: a host's raw outputs of one hour in one zstd object (dream/blobs/packs.py). A packed
-- snapshot keeps its sha256 and size; raw_compression = 'zstd-pack' and raw_url is the pack's
-- URL with the output's offset as fragment (s3://bucket/raw/packs/x.zst#123456).

-- `dream pack-raw`: the snapshots still to pack, host by host in time order.
CREATE INDEX snapshots_unpacked_idx ON snapshots (host, collected_at)
    WHERE raw_compression = 'gzip';

-- gc: "does any snapshot still point into this pack?"
CREATE INDEX snapshots_raw_pack_idx ON snapshots (split_part(raw_url, '#', 1))
    WHERE raw_compression = 'zstd-pack';
