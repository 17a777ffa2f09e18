-- The product's version where the catalog reads one in a process's name or path (MATLAB
-- R2023b, Office 16, Stata 18; docs/catalog.md): on each process row and on each session (a
-- session's is its process's, as its app is). NULL: the catalog shows none, or the row was
-- stored before this column (`dream reprocess` fills it in). Answers by version read the
-- sessions (docs/analytics.md, "Grouped by product, executable or version"), which keep the
-- executable's name beside the product already.
ALTER TABLE processes ADD COLUMN version text;
ALTER TABLE sessions ADD COLUMN version text COLLATE "C";
