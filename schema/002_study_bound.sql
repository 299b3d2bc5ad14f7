-- 002_study_bound.sql: whether a study's hypergradient error bound can be
-- certified at all (user_version 2).
--
-- 'certifiable': the problem's lower levels are strongly convex (every
--   problem type before "mlp"): omega and the sandwich are certified
--   whenever the constants are true bounds, which iterations.certified
--   records per iteration.
-- 'not_certified': a non-convex lower level (the "mlp" type): omega and the
--   sandwich are heuristics, the hypergradient is that of implicit
--   differentiation at the stationary point the lower solve found.
-- Existing rows get the default: every study before this migration was of
-- a convex type.
ALTER TABLE studies ADD COLUMN bound TEXT NOT NULL DEFAULT 'certifiable'
  CONSTRAINT study_bound_known CHECK (bound IN ('certifiable', 'not_certified'));
