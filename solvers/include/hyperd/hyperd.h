/* hyperd/hyperd.h: everything libhyperd offers, in one include. */
#ifndef HYPERD_HYPERD_H
#define HYPERD_HYPERD_H
#include <hyperd/status.h>
#include <hyperd/problem.h>
#include <hyperd/oracle.h>
#include <hyperd/maid.h>
#include <hyperd/quadratic.h>
#include <hyperd/tv.h>
#include <hyperd/stack.h>
#include <hyperd/logistic.h>
#include <hyperd/foe.h>
#include <hyperd/compander.h>
#include <hyperd/mlp.h>
#include <hyperd/compander_sgd.h>
#endif
