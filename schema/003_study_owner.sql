-- 003_study_owner.sql: which process runs a study (user_version 3).
--
-- owner_host, owner_pid: the process that claimed the study when it was
--   marked RUNNING (hyperd run, resume, serve), kept afterwards as the
--   process that ran it last. A second run or resume of a RUNNING study
--   is refused while that process is alive: on the same host while the
--   process exists, on another host while heartbeat_at is recent.
-- heartbeat_at: when the owner last showed life (its claim, then every
--   committed iteration), ISO-8601 UTC as the other times.
-- Studies of older databases have no owner: a RUNNING one among them was
-- left by a crash (older hyperd binaries do not claim) and may be resumed.
ALTER TABLE studies ADD COLUMN owner_host TEXT;
ALTER TABLE studies ADD COLUMN owner_pid INTEGER
  CONSTRAINT study_owner_pid_positive CHECK (owner_pid IS NULL OR owner_pid > 0);
ALTER TABLE studies ADD COLUMN heartbeat_at TEXT;
