-- 001_initial.sql: the first hyperd trial-store schema (user_version 1).
--
-- Applied by coordinator/store/store.c inside one transaction, which also
-- sets PRAGMA user_version = 1. Never edit this file once released: add
-- NNN_name.sql instead (docs/schema.md, "Migrations").
--
-- Conventions:
-- * Times are ISO-8601 UTC text ("2026-11-27T08:40:00.123Z"): readable in
--   the sqlite3 shell and ordered correctly as text.
-- * theta and warm starts are BLOBs of float64, little-endian, so that they
--   round-trip bit for bit (REAL columns lose NaN and the sign of -0.0).
-- * REAL columns hold NULL where a value does not apply or was NaN (SQLite
--   stores a bound NaN as NULL).
-- * Cost columns use the names of hyd_cost (oracle.h).

CREATE TABLE studies (
  id                  INTEGER PRIMARY KEY,
  name                TEXT    NOT NULL UNIQUE
                      CONSTRAINT study_name_length CHECK (length(name) BETWEEN 1 AND 200),
  problem             TEXT    NOT NULL,
  method              TEXT    NOT NULL,
  status              TEXT    NOT NULL DEFAULT 'QUEUED'
                      CONSTRAINT study_status_known
                      CHECK (status IN ('QUEUED', 'RUNNING', 'COMPLETE', 'FAILED', 'INTERRUPTED')),
  study_json          TEXT    NOT NULL
                      CONSTRAINT study_json_is_json CHECK (json_valid(study_json)),
  options_json        TEXT    NOT NULL DEFAULT '{}'
                      CONSTRAINT options_json_is_json CHECK (json_valid(options_json)),
  seed                INTEGER NOT NULL DEFAULT 0,
  data_checksums_json TEXT    NOT NULL DEFAULT '{}'
                      CONSTRAINT data_checksums_json_is_json CHECK (json_valid(data_checksums_json)),
  host                TEXT,
  ranks               INTEGER CONSTRAINT study_ranks_positive CHECK (ranks IS NULL OR ranks >= 1),
  created_at          TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  started_at          TEXT,
  finished_at         TEXT,
  stop_reason         TEXT,
  error               TEXT,
  best_value          REAL,
  best_iteration      INTEGER CONSTRAINT study_best_iteration_nonnegative
                      CHECK (best_iteration IS NULL OR best_iteration >= 0),
  n_theta             INTEGER NOT NULL CONSTRAINT study_n_theta_nonnegative CHECK (n_theta >= 0)
);

-- The daemon's queue: oldest QUEUED study first.
CREATE INDEX studies_by_status ON studies (status, id);

-- Every oracle evaluation and every line-search trial. The primary key is
-- the natural order of a run, so rows of one study lie together on disk and
-- a WITHOUT ROWID table needs one B-tree, not two, per insert.
CREATE TABLE evaluations (
  study_id        INTEGER NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
  iteration       INTEGER NOT NULL CONSTRAINT evaluation_iteration_nonnegative CHECK (iteration >= 0),
  seq             INTEGER NOT NULL CONSTRAINT evaluation_seq_nonnegative CHECK (seq >= 0),
  kind            TEXT    NOT NULL CONSTRAINT evaluation_kind_known CHECK (kind IN ('evaluate', 'trial')),
  theta           BLOB    NOT NULL CONSTRAINT evaluation_theta_float64 CHECK (length(theta) % 8 = 0),
  eps             REAL,
  delta           REAL,
  step            REAL,
  z_norm          REAL,
  omega           REAL,
  f_lo            REAL,
  f_hi            REAL,
  g               REAL,
  accepted        INTEGER NOT NULL DEFAULT 0 CONSTRAINT evaluation_accepted_bool CHECK (accepted IN (0, 1)),
  lower_iters     REAL    NOT NULL DEFAULT 0,
  cg_iters        REAL    NOT NULL DEFAULT 0,
  lower_batches   REAL    NOT NULL DEFAULT 0,
  cg_batches      REAL    NOT NULL DEFAULT 0,
  lower_iters_ref REAL    NOT NULL DEFAULT 0,
  n_evaluations   REAL    NOT NULL DEFAULT 0,
  n_trials        REAL    NOT NULL DEFAULT 0,
  capped_solves   REAL    NOT NULL DEFAULT 0,
  wall_seconds    REAL,
  failed          INTEGER NOT NULL DEFAULT 0 CONSTRAINT evaluation_failed_bool CHECK (failed IN (0, 1)),
  fail_reason     TEXT,
  CONSTRAINT evaluation_fail_reason_iff_failed CHECK ((failed = 1) = (fail_reason IS NOT NULL)),
  PRIMARY KEY (study_id, iteration, seq)
) WITHOUT ROWID;

-- One row per outer iteration that ended (accepted or not), written in the
-- same transaction as its evaluations and the checkpoint. Costs are
-- cumulative (everything spent by the study so far), as in hyd_maid_info.
CREATE TABLE iterations (
  study_id        INTEGER NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
  iteration       INTEGER NOT NULL CONSTRAINT iteration_number_nonnegative CHECK (iteration >= 0),
  theta           BLOB    NOT NULL CONSTRAINT iteration_theta_float64 CHECK (length(theta) % 8 = 0),
  eps             REAL,
  delta           REAL,
  alpha           REAL,
  step            REAL,
  z_norm          REAL,
  omega           REAL,
  f_lo            REAL,
  f_hi            REAL,
  g               REAL,
  accepted        INTEGER NOT NULL CONSTRAINT iteration_accepted_bool CHECK (accepted IN (0, 1)),
  n_accepted      INTEGER NOT NULL CONSTRAINT iteration_n_accepted_nonnegative CHECK (n_accepted >= 0),
  lower_iters     REAL    NOT NULL DEFAULT 0,
  cg_iters        REAL    NOT NULL DEFAULT 0,
  lower_batches   REAL    NOT NULL DEFAULT 0,
  cg_batches      REAL    NOT NULL DEFAULT 0,
  lower_iters_ref REAL    NOT NULL DEFAULT 0,
  n_evaluations   REAL    NOT NULL DEFAULT 0,
  n_trials        REAL    NOT NULL DEFAULT 0,
  capped_solves   REAL    NOT NULL DEFAULT 0,
  wall_seconds    REAL,
  certified       INTEGER NOT NULL CONSTRAINT iteration_certified_bool CHECK (certified IN (0, 1)),
  PRIMARY KEY (study_id, iteration)
) WITHOUT ROWID;

-- The latest checkpoint of each study (one row per study, replaced in the
-- iteration's transaction). Older ones are not kept: warm starts can be
-- megabytes per iteration, and the trajectory (theta per iteration) is in
-- `iterations` anyway. `state` is authoritative: hyd_maid_checkpoint packed
-- as 25 little-endian 8-byte fields (layout state_version 1, see
-- docs/schema.md) so that resume is bit for bit; the other scalar columns
-- copy a few of its fields for people reading the table.
CREATE TABLE checkpoints (
  study_id      INTEGER PRIMARY KEY REFERENCES studies (id) ON DELETE CASCADE,
  iteration     INTEGER NOT NULL CONSTRAINT checkpoint_iteration_nonnegative CHECK (iteration >= 0),
  state_version INTEGER NOT NULL CONSTRAINT checkpoint_state_version_known CHECK (state_version = 1),
  state         BLOB    NOT NULL CONSTRAINT checkpoint_state_size CHECK (length(state) = 200),
  theta         BLOB    NOT NULL CONSTRAINT checkpoint_theta_float64 CHECK (length(theta) % 8 = 0),
  warm          BLOB             CONSTRAINT checkpoint_warm_float64 CHECK (warm IS NULL OR length(warm) % 8 = 0),
  eps           REAL,
  delta         REAL,
  alpha         REAL,
  created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- Notable things, for people: level as in hyd_logger (0 debug .. 3 error).
-- study_id is NULL for daemon-wide events.
CREATE TABLE events (
  id       INTEGER PRIMARY KEY,
  study_id INTEGER REFERENCES studies (id) ON DELETE CASCADE,
  time     TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  level    INTEGER NOT NULL CONSTRAINT event_level_known CHECK (level BETWEEN 0 AND 3),
  kind     TEXT    NOT NULL CONSTRAINT event_kind_nonempty CHECK (length(kind) >= 1),
  message  TEXT    NOT NULL
);
CREATE INDEX events_by_study ON events (study_id, id);

-- Data sets the daemon knows, by name, with the checksum a fetch must match.
CREATE TABLE datasets (
  name   TEXT PRIMARY KEY CONSTRAINT dataset_name_nonempty CHECK (length(name) >= 1),
  url    TEXT,
  sha256 TEXT NOT NULL
         CONSTRAINT dataset_sha256_hex CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*')
) WITHOUT ROWID;

-- Best iteration of every study: the least upper-level value g (ties: the
-- earliest), studies without iterations with NULLs. The daemon's own
-- verdict is in studies.best_value / best_iteration.
CREATE VIEW best_per_study AS
SELECT s.id AS study_id, s.name, s.status, s.problem, s.method,
       b.iteration, b.g AS value, b.f_lo, b.f_hi, b.z_norm, b.omega, b.theta,
       b.lower_iters + b.cg_iters AS work
FROM studies AS s
LEFT JOIN (
  SELECT *, row_number() OVER (PARTITION BY study_id ORDER BY g, iteration) AS rank_in_study
  FROM iterations WHERE g IS NOT NULL
) AS b ON b.study_id = s.id AND b.rank_in_study = 1;

-- Per study and iteration: what a convergence plot needs. work is the
-- paper's x-axis (lower-level + CG iterations, cumulative); gap the width of
-- the function-value sandwich.
CREATE VIEW convergence AS
SELECT s.id AS study_id, s.name, i.iteration,
       i.lower_iters + i.cg_iters AS work,
       i.lower_batches + i.cg_batches AS work_batches,
       i.wall_seconds, i.g, i.f_lo, i.f_hi, i.f_hi - i.f_lo AS gap,
       i.z_norm, i.omega, i.eps, i.delta, i.alpha, i.step,
       i.accepted, i.n_accepted, i.certified,
       (SELECT count(*) FROM evaluations AS e
         WHERE e.study_id = i.study_id AND e.iteration = i.iteration) AS n_records
FROM iterations AS i JOIN studies AS s ON s.id = i.study_id;
