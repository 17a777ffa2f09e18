-- Fleet health learns what a host's collector lost before any api heard it: how many snapshots
-- its bounded spool evicted unsent, ever (dream-agent's evicted.count), as its newest snapshot
-- says. Null: a collector that does not say (dream collect's spool is not bounded).
ALTER TABLE fleet_hosts ADD COLUMN spool_evicted bigint;
