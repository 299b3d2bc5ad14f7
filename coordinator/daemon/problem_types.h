/* daemon/problem_types.h: one builder per problem type (problems.c keeps
 * the table that maps a study's "type" to its builder). Each checks its
 * keys, loads its data and fills `out`; 0, 2 (bad input) or 1. */
#ifndef HYPERD_DAEMON_PROBLEM_TYPES_H
#define HYPERD_DAEMON_PROBLEM_TYPES_H

#include "problems.h"

int hyd_build_tv(const cJSON *spec, const char *dir, const char *where,
                 hyd_built_problem *out, char *err, size_t errsz);
int hyd_build_logistic(const cJSON *spec, const char *dir, const char *where,
                       hyd_built_problem *out, char *err, size_t errsz);

#endif
