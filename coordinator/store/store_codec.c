/* store_codec.c: how values become bytes and columns, and back.
 *
 * float64 arrays are stored little-endian whatever the host, so that a
 * database copied between machines still reads the same theta. Values
 * round-trip through their bit patterns: NaN payloads and -0.0 survive,
 * which a REAL column would not guarantee. */
#include "store_internal.h"

#include <math.h>
#include <string.h>

/* A checkpoint of 4 longs, 20 doubles and 8 cost doubles packs into 25
 * fields: if maid.h grows the struct, this stops the build until the
 * layout (and the state_version) is updated. */
_Static_assert(sizeof(hyd_cost) == 8 * sizeof(double),
               "hyd_cost changed: update the cost columns and the state layout");
_Static_assert(sizeof(hyd_maid_checkpoint) ==
                   4 * sizeof(long) + 13 * sizeof(double) + sizeof(hyd_cost),
               "hyd_maid_checkpoint changed: update the state layout");

static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++)
    v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static void put_double(unsigned char *p, double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  put_u64(p, u);
}

static double get_double(const unsigned char *p) {
  uint64_t u = get_u64(p);
  double x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* Longs as two's complement int64 bit patterns. */
static void put_long(unsigned char *p, long v) { put_u64(p, (uint64_t)(int64_t)v); }
static long get_long(const unsigned char *p) { return (long)(int64_t)get_u64(p); }

/* On a little-endian host with IEEE doubles the stored bytes are the
 * memory bytes: a memcpy (the compiler folds the test) instead of a
 * byte loop, which matters for warm starts of megabytes per checkpoint. */
int hyd_store_host_is_little_endian(void) {
  const double probe = 1.0; /* 0x3FF0000000000000 */
  unsigned char b[8];
  memcpy(b, &probe, sizeof b);
  return sizeof(double) == 8 && b[7] == 0x3F && b[6] == 0xF0;
}

void hyd_store_encode_doubles(unsigned char *out, const double *x, size_t n) {
  if (hyd_store_host_is_little_endian()) {
    memcpy(out, x, n * 8);
    return;
  }
  for (size_t i = 0; i < n; i++)
    put_double(out + 8 * i, x[i]);
}

void hyd_store_decode_doubles(double *out, const unsigned char *in, size_t n) {
  if (hyd_store_host_is_little_endian()) {
    memcpy(out, in, n * 8);
    return;
  }
  for (size_t i = 0; i < n; i++)
    out[i] = get_double(in + 8 * i);
}

static void cost_to_array(const hyd_cost *c, double a[8]) {
  a[0] = c->lower_iters;
  a[1] = c->cg_iters;
  a[2] = c->lower_batches;
  a[3] = c->cg_batches;
  a[4] = c->lower_iters_ref;
  a[5] = c->evaluations;
  a[6] = c->trials;
  a[7] = c->capped_solves;
}

static void cost_from_array(hyd_cost *c, const double a[8]) {
  c->lower_iters = a[0];
  c->cg_iters = a[1];
  c->lower_batches = a[2];
  c->cg_batches = a[3];
  c->lower_iters_ref = a[4];
  c->evaluations = a[5];
  c->trials = a[6];
  c->capped_solves = a[7];
}

/* Layout (state_version 1), 8 bytes each, little-endian: iter, accepted,
 * bt_max, failed_rounds (int64); eps, delta, alpha, step, g_old, hoag_L,
 * hoag_g_prev, z_norm, omega, f_lo, f_hi, g, cost (8 fields in hyd_cost
 * order), wall_seconds (float64). Documented in docs/schema.md. */
void hyd_store_pack_checkpoint(unsigned char *out, const hyd_maid_checkpoint *cp) {
  const long longs[4] = {cp->iter, cp->accepted, cp->bt_max, cp->failed_rounds};
  double d[21] = {cp->eps,   cp->delta, cp->alpha, cp->step,  cp->g_old,
                  cp->hoag_L, cp->hoag_g_prev, cp->z_norm, cp->omega,
                  cp->f_lo,  cp->f_hi,  cp->g};
  cost_to_array(&cp->cost, d + 12);
  d[20] = cp->wall_seconds;
  for (int i = 0; i < 4; i++)
    put_long(out + 8 * i, longs[i]);
  hyd_store_encode_doubles(out + 32, d, 21);
}

void hyd_store_unpack_checkpoint(hyd_maid_checkpoint *cp, const unsigned char *in) {
  double d[21];
  memset(cp, 0, sizeof *cp);
  cp->iter = get_long(in);
  cp->accepted = get_long(in + 8);
  cp->bt_max = get_long(in + 16);
  cp->failed_rounds = get_long(in + 24);
  hyd_store_decode_doubles(d, in + 32, 21);
  cp->eps = d[0];
  cp->delta = d[1];
  cp->alpha = d[2];
  cp->step = d[3];
  cp->g_old = d[4];
  cp->hoag_L = d[5];
  cp->hoag_g_prev = d[6];
  cp->z_norm = d[7];
  cp->omega = d[8];
  cp->f_lo = d[9];
  cp->f_hi = d[10];
  cp->g = d[11];
  cost_from_array(&cp->cost, d + 12);
  cp->wall_seconds = d[20];
}

int hyd_store_bind_text(sqlite3_stmt *stmt, int i, const char *text) {
  /* TRANSIENT: SQLite copies, so the caller's string need not outlive us. */
  return text ? sqlite3_bind_text(stmt, i, text, -1, SQLITE_TRANSIENT)
              : sqlite3_bind_null(stmt, i);
}

double hyd_store_column_double(sqlite3_stmt *stmt, int i) {
  return sqlite3_column_type(stmt, i) == SQLITE_NULL ? NAN
                                                      : sqlite3_column_double(stmt, i);
}

int hyd_store_bind_cost(sqlite3_stmt *stmt, int first, const hyd_cost *c) {
  double a[8];
  cost_to_array(c, a);
  int rc = SQLITE_OK;
  for (int k = 0; k < 8 && rc == SQLITE_OK; k++)
    rc = sqlite3_bind_double(stmt, first + k, a[k]);
  return rc;
}

void hyd_store_column_cost(sqlite3_stmt *stmt, int first, hyd_cost *c) {
  double a[8];
  for (int k = 0; k < 8; k++)
    a[k] = sqlite3_column_double(stmt, first + k);
  cost_from_array(c, a);
}

int hyd_store_dup_string(char **p) {
  if (!*p)
    return 0;
  size_t n = strlen(*p) + 1;
  char *copy = sqlite3_malloc64(n);
  if (copy)
    memcpy(copy, *p, n);
  *p = copy;
  return copy ? 0 : -1;
}
