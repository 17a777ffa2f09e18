-- Fleet health: one row per host, upserted by the api for each snapshot it accepts (off the
-- request path, in batches: dream/web/fleet.py), so `GET /v1/hosts` and the silent-host alert
-- read 1 row per machine, not its snapshots.
CREATE TABLE fleet_hosts (
    host            text COLLATE "C" PRIMARY KEY,
    first_seen      timestamptz NOT NULL,  -- the api's clock: when it first heard from the host
    last_seen       timestamptz NOT NULL,  -- ... and last
    last_collected  timestamptz NOT NULL,  -- the newest collected_at (the host's clock)
    agent           text,                  -- User-Agent's product/version: dream-agent/1.2.0
    clock_skew_s    real,                  -- the host's Date header minus the api's clock (s)
    interval_s      real,                  -- the interval the collector says it samples at
    gaps_s          real[] NOT NULL DEFAULT '{}',  -- the last 16 intervals between snapshots
    snapshots       bigint NOT NULL DEFAULT 0
);

-- Each host's cadence (the median of its recent intervals between snapshots, else the interval
-- it says, else 5 minutes) and status from the time since it was last heard from: `reporting`
-- within 2 cadences, `late` within 6, `silent` beyond (docs/agent.md, "Fleet health").
-- The thresholds live here only: the api's answer and the metric both read this view.
CREATE VIEW fleet_status AS
SELECT f.*, c.cadence_s,
       CASE WHEN now() - f.last_seen <= make_interval(secs => 2 * c.cadence_s) THEN 'reporting'
            WHEN now() - f.last_seen <= make_interval(secs => 6 * c.cadence_s) THEN 'late'
            ELSE 'silent' END AS status
FROM fleet_hosts f
CROSS JOIN LATERAL (
    SELECT coalesce((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY g) FROM unnest(f.gaps_s) g),
                    f.interval_s, 300)::double precision AS cadence_s
) c;
