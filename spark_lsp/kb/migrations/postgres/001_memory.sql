-- 001: the memory tables of the local migrations 001 and 003, on a PostgreSQL server
-- (`kb.storage`). Same names, same columns in the same order (some inserts give no column
-- list), so the SQL the rest of Spark runs through DuckDB is the same. JSON values are kept
-- as text: DuckDB writes them as strings and Spark parses them itself.
-- Not here: journal_offsets (they describe one machine's journal files: local) and the
-- documentation tables (local, with their vector and full-text indexes).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE cards (
    code         TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    status       TEXT NOT NULL,
    source       TEXT NOT NULL CHECK (source IN ('seed', 'memory', 'learned')),
    libraries    TEXT NOT NULL,
    body         TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    path         TEXT,
    loaded_at    TIMESTAMP NOT NULL,
    removed_at   TIMESTAMP
);

CREATE TABLE traces (
    id          TEXT PRIMARY KEY,              -- the trace id: exactly once, across machines
    ts          DOUBLE PRECISION NOT NULL,
    client      TEXT NOT NULL,
    file_hash   TEXT NOT NULL,
    line        INTEGER NOT NULL,
    code        TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    "before"    TEXT NOT NULL,
    "after"     TEXT NOT NULL,
    versions    TEXT NOT NULL,
    "user"      TEXT NOT NULL,
    "schema"    INTEGER NOT NULL,
    merged_at   TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    workspace   TEXT DEFAULT ''
);
CREATE INDEX traces_code_outcome ON traces (code, outcome);

-- DuckDB's postgres extension sends every column (NULL for those an INSERT leaves out), so a
-- column DEFAULT never applies: a trigger fills in what the local schema's defaults would.
CREATE FUNCTION traces_defaults() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.merged_at := coalesce(NEW.merged_at, now() AT TIME ZONE 'utc');
    NEW.workspace := coalesce(NEW.workspace, '');
    RETURN NEW;
END $$;
CREATE TRIGGER traces_defaults BEFORE INSERT ON traces
    FOR EACH ROW EXECUTE FUNCTION traces_defaults();

CREATE TABLE card_evidence (
    code      TEXT NOT NULL,
    trace_id  TEXT NOT NULL,
    relation  TEXT NOT NULL,
    added_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (code, trace_id)
);

CREATE TABLE card_overrides (
    code       TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    since      DOUBLE PRECISION NOT NULL,
    note       TEXT NOT NULL,             -- Spark always writes it (see the trigger above)
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE learning_runs (
    id          TEXT PRIMARY KEY,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    report      TEXT NOT NULL
);

-- Inserts are upserts, decided by PostgreSQL. DuckDB's postgres extension carries out
-- `INSERT … ON CONFLICT` itself: it looks up which keys exist, then COPYs the rows it found new.
-- Two machines inserting the same key at once would both find it new, and the second COPY would
-- fail on the primary key. So each row a COPY delivers goes through PostgreSQL's own
-- `INSERT … ON CONFLICT` (in the trigger, one level down), which is atomic: a trace id that is
-- already there is skipped (the first one recorded stays), any other table takes the newer row,
-- as the local file's upserts do.
CREATE FUNCTION spark_upsert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    cols text;
    sets text;
BEGIN
    IF pg_trigger_depth() > 1 THEN
        RETURN NEW;  -- the row inserted below
    END IF;
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum),
           string_agg(format('%1$I = EXCLUDED.%1$I', attname), ', ' ORDER BY attnum)
      INTO cols, sets
      FROM pg_attribute WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped;
    EXECUTE format('INSERT INTO %I.%I (%s) SELECT %s FROM (SELECT ($1).*) AS r '
                   'ON CONFLICT (%s) DO %s', TG_TABLE_SCHEMA, TG_TABLE_NAME, cols, cols,
                   TG_ARGV[0], CASE WHEN TG_ARGV[1] = 'nothing' THEN 'NOTHING'
                                    ELSE 'UPDATE SET ' || sets END)
      USING NEW;
    RETURN NULL;  -- inserted (or skipped) above
END $$;

-- Named to fire after traces_defaults (BEFORE triggers fire in name order).
CREATE TRIGGER upsert BEFORE INSERT ON meta
    FOR EACH ROW EXECUTE FUNCTION spark_upsert('key', 'update');
CREATE TRIGGER upsert BEFORE INSERT ON cards
    FOR EACH ROW EXECUTE FUNCTION spark_upsert('code', 'update');
CREATE TRIGGER upsert BEFORE INSERT ON traces
    FOR EACH ROW EXECUTE FUNCTION spark_upsert('id', 'nothing');
CREATE TRIGGER upsert BEFORE INSERT ON card_evidence
    FOR EACH ROW EXECUTE FUNCTION spark_upsert('code, trace_id', 'update');
CREATE TRIGGER upsert BEFORE INSERT ON card_overrides
    FOR EACH ROW EXECUTE FUNCTION spark_upsert('code', 'update');
CREATE TRIGGER upsert BEFORE INSERT ON learning_runs
    FOR EACH ROW EXECUTE FUNCTION spark_upsert('id', 'nothing');
