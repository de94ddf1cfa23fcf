-- 006: the documentation's own cross-references — for every documented object, the objects of
-- the same library its "See Also" section names (`pandas.DataFrame.drop_duplicates` ->
-- `pandas.DataFrame.duplicated`). Hybrid search passes a share of a result's score to them.
-- A knowledge base built before this table has no links until its next `spark kb build`.

CREATE TABLE doc_links (
    library VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    object  VARCHAR NOT NULL,                -- the object whose documentation names...
    target  VARCHAR NOT NULL,                -- ...this one
    PRIMARY KEY (library, version, object, target)
);
