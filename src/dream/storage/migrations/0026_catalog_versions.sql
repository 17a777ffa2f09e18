-- Which catalog named the products of each stored listing, so an answer can say which catalog
-- versions produced it (docs/catalog.md, "Which catalog named an answer").
--
-- snapshots.catalog: the catalog version (dream.catalog: Catalog.version, its rules' digest)
-- the worker or `dream reprocess` parsed the listing with; null for listings stored before this
-- migration (until a reprocess) and for failed ones (no product named).
-- catalog_days: per UTC day and catalog version, how many stored listings it named: the
-- writer adds its batch's, a reprocess moves each rewritten listing from its old version to
-- its new one and drops a version nothing on that day holds any more. An answer reads the
-- versions of the days its range touches (a few rows), not the snapshots.
ALTER TABLE snapshots ADD COLUMN catalog text;

CREATE TABLE catalog_days (
    bucket    timestamptz      NOT NULL,  -- the UTC day
    catalog   text COLLATE "C" NOT NULL,
    snapshots bigint           NOT NULL,
    PRIMARY KEY (bucket, catalog)
);
