-- Fleet health (migration 0018): one row per host, the view of their cadence and status.

-- name: upsert_fleet_host
-- One accepted snapshot. A newer collected_at adds its interval since the last to the host's
-- recent intervals (the last 16 kept) and sets agent, skew and interval; an older one (a spool
-- drained late) only counts and refreshes last_seen.
INSERT INTO fleet_hosts AS f (host, first_seen, last_seen, last_collected, agent, clock_skew_s,
                              interval_s, spool_evicted, snapshots)
VALUES (%(host)s, %(received_at)s, %(received_at)s, %(collected_at)s, %(agent)s,
        %(clock_skew_s)s, %(interval_s)s, %(spool_evicted)s, 1)
ON CONFLICT (host) DO UPDATE SET
    last_seen = greatest(f.last_seen, EXCLUDED.last_seen),
    snapshots = f.snapshots + 1,
    last_collected = greatest(f.last_collected, EXCLUDED.last_collected),
    gaps_s = CASE WHEN EXCLUDED.last_collected > f.last_collected
        THEN (f.gaps_s || extract(epoch FROM EXCLUDED.last_collected - f.last_collected)::real)
             [greatest(1, cardinality(f.gaps_s) - 14):]
        ELSE f.gaps_s END,
    agent = CASE WHEN EXCLUDED.last_collected >= f.last_collected
        THEN coalesce(EXCLUDED.agent, f.agent) ELSE f.agent END,
    clock_skew_s = CASE WHEN EXCLUDED.last_collected >= f.last_collected
        THEN coalesce(EXCLUDED.clock_skew_s, f.clock_skew_s) ELSE f.clock_skew_s END,
    interval_s = CASE WHEN EXCLUDED.last_collected >= f.last_collected
        THEN coalesce(EXCLUDED.interval_s, f.interval_s) ELSE f.interval_s END,
    spool_evicted = CASE WHEN EXCLUDED.last_collected >= f.last_collected
        THEN coalesce(EXCLUDED.spool_evicted, f.spool_evicted) ELSE f.spool_evicted END

-- name: fleet_of_hosts
-- spool_evicted from the table (migration 0027): the view's columns are 0018's.
SELECT s.host, s.last_seen, s.last_collected AS last_collected_at, s.agent, s.cadence_s,
       s.clock_skew_s, s.status, s.snapshots AS snapshots_received, f.spool_evicted
FROM fleet_status s JOIN fleet_hosts f USING (host) WHERE s.host = ANY(%(hosts)s::text[])

-- name: fleet_status_counts
SELECT status, count(*) AS hosts FROM fleet_status GROUP BY status
