-- 002: the documentation knowledge base — public objects introspected from installed libraries,
-- their snippets (one per object and per meaningful docstring section) with MiniLM vectors, and
-- what each library build harvested. `spark kb build` fills these tables in a new file, builds
-- the full-text index (fts, over names + text) and the HNSW index (vss, cosine, over embedding)
-- there, and swaps the file in. Every connection must load vss: DuckDB cannot write or
-- checkpoint a file that holds an HNSW index without it.
-- requires: vss, fts

CREATE TABLE doc_libraries (
    library      VARCHAR NOT NULL,          -- import name: pandas, sklearn, torch
    version      VARCHAR NOT NULL,          -- as installed where it was introspected
    python       VARCHAR NOT NULL,          -- that interpreter
    objects      INTEGER NOT NULL,
    snippets     INTEGER NOT NULL,
    harvested_at TIMESTAMP NOT NULL,        -- UTC
    seconds      DOUBLE NOT NULL,           -- introspection time
    PRIMARY KEY (library, version)
);

CREATE TABLE doc_objects (
    library   VARCHAR NOT NULL,
    version   VARCHAR NOT NULL,
    object    VARCHAR NOT NULL,             -- fully qualified public name: pandas.DataFrame.sort_values
    kind      VARCHAR NOT NULL,             -- module | class | function | method | property
    signature VARCHAR NOT NULL,             -- '' when the object has none that can be read
    summary   VARCHAR NOT NULL,             -- first sentence of its docstring
    aliases   VARCHAR[] NOT NULL,           -- other public names of the same object
    PRIMARY KEY (library, version, object)
);

CREATE TABLE docs (
    id           INTEGER PRIMARY KEY,       -- the full-text index's document id
    library      VARCHAR NOT NULL,
    version      VARCHAR NOT NULL,
    object       VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,
    signature    VARCHAR NOT NULL,
    section      VARCHAR NOT NULL,          -- summary | parameters | returns | examples | notes | deprecation
    text         VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,          -- "introspected from pandas 3.1.1"
    names        VARCHAR NOT NULL,          -- object and aliases, for the full-text index
    content_hash VARCHAR NOT NULL,          -- of the embedded text and model: the vector cache key
    embedding    FLOAT[384]                 -- NULL for sections that are not embedded
);
