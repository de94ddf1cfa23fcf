-- 001: the foundation — cards, traces, key/value meta, and how far each journal was merged.
-- Documentation tables (FLOAT[384] vectors, full-text and HNSW indexes) come in a later
-- migration that starts with `-- requires: vss, fts`.
-- Times are TIMESTAMP in UTC (TIMESTAMPTZ would need pytz in every Python reader).

CREATE TABLE meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

CREATE TABLE cards (
    code         VARCHAR PRIMARY KEY,          -- SPKnnn
    title        VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,             -- its own, or 'removed' once its source dropped it
    source       VARCHAR NOT NULL CHECK (source IN ('seed', 'memory', 'learned')),
    libraries    JSON NOT NULL,                -- {"pandas": ">=2"}
    body         JSON NOT NULL,                -- the card's data as loaded (YAML as JSON)
    content_hash VARCHAR NOT NULL,             -- sha256 of the canonical JSON body
    path         VARCHAR,                      -- the file it was loaded from
    loaded_at    TIMESTAMP NOT NULL,           -- when this content was loaded
    removed_at   TIMESTAMP                     -- when its source stopped providing it
);

CREATE TABLE traces (
    id          VARCHAR PRIMARY KEY,           -- Trace.id (uuid hex): merges dedupe on it
    ts          DOUBLE NOT NULL,               -- seconds since the epoch, as recorded
    client      VARCHAR NOT NULL,
    file_hash   VARCHAR NOT NULL,              -- files are named by hash, never by path
    line        INTEGER NOT NULL,              -- 1-based
    code        VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL,
    outcome     VARCHAR NOT NULL,              -- shown | accepted | rejected | corrected
    "before"    VARCHAR NOT NULL,
    "after"     VARCHAR NOT NULL,
    versions    JSON NOT NULL,                 -- {"pandas": "3.0.1"}
    "user"      VARCHAR NOT NULL,              -- pseudonymous
    "schema"    INTEGER NOT NULL,              -- the trace format version
    merged_at   TIMESTAMP NOT NULL DEFAULT make_timestamp(epoch_us(current_timestamp))
);

-- Bytes of each live journal file already merged, committed with the traces they hold.
CREATE TABLE journal_offsets (
    file       VARCHAR PRIMARY KEY,            -- journal file name, without its folder
    "offset"   BIGINT NOT NULL,                -- always just after a newline
    updated_at TIMESTAMP NOT NULL DEFAULT make_timestamp(epoch_us(current_timestamp))
);
