-- 004: how common each documented API is — for every library version, how often each member
-- name is used as an attribute (`df.loc`, `np.where(`) in that library's own source and tests,
-- counted when the library is harvested. Search ranks common APIs first among equally relevant
-- ones. A knowledge base built before this table has no counts until its next `spark kb build`.

CREATE TABLE doc_usage (
    library VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    name    VARCHAR NOT NULL,                -- the last component: loc, groupby, where
    uses    INTEGER NOT NULL,
    PRIMARY KEY (library, version, name)
);
