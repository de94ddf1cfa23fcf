-- 003: the learning loop. Traces remember their workspace (a hash), so that a suggestion
-- rejected in a workspace is not shown there again; learned cards keep the traces they came
-- from; an admin's restore of a demoted card is remembered; each `spark learn` run is recorded.
-- A new column cannot carry NOT NULL in DuckDB's ALTER TABLE: readers treat NULL as ''.

ALTER TABLE traces ADD COLUMN workspace VARCHAR DEFAULT '';

-- Which traces support (or contradict) a learned card, and which merged into an existing card.
CREATE TABLE card_evidence (
    code      VARCHAR NOT NULL,                -- the card (learned, or a seed card given evidence)
    trace_id  VARCHAR NOT NULL,
    relation  VARCHAR NOT NULL,                -- support | contradict | merged
    added_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (code, trace_id)
);

-- Admin decisions that outcomes must not undo: `restored` (count rejections only after `since`).
CREATE TABLE card_overrides (
    code       VARCHAR PRIMARY KEY,
    state      VARCHAR NOT NULL,               -- restored
    since      DOUBLE NOT NULL,                -- seconds since the epoch
    note       VARCHAR NOT NULL DEFAULT '',
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE learning_runs (
    id          VARCHAR PRIMARY KEY,
    started_at  TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    report      JSON NOT NULL                  -- LearnReport.to_dict()
);
