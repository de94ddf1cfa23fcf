-- 005: which revision of Spark's harvester documented each library version. An incremental
-- `spark kb build` harvests a library again when its documentation came from an older harvester
-- (one that found fewer objects, say), even though the library's version did not change.
-- Rows from before this column are revision 0.

ALTER TABLE doc_libraries ADD COLUMN harvester INTEGER DEFAULT 0;
