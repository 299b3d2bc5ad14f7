/* daemon/webhook.h: study events POSTed as JSON to a URL (rank 0 only).
 *
 * Design: the iteration loop must never wait on the network, so posting
 * only formats the document and appends it to a bounded in-memory queue;
 * one background thread delivers the queue in order with libcurl. Each
 * delivery gets HYD_WEBHOOK_ATTEMPTS tries (2 s to connect, 5 s in all per
 * try, a short pause between tries); a delivery that still fails is
 * counted and dropped, it never fails the study. When the queue is full a
 * new event is dropped (counted). "best" events do not queue: there is one
 * slot, a newer best replaces an undelivered one, and bests go out at most
 * once a second (sooner when a later event waits behind one, so the order
 * of posting is kept). A study that improves at every iteration thus
 * costs a handful of requests, not thousands, and its CPU stays with the
 * solver.
 *
 * Closing waits for the queue to drain at most HYD_WEBHOOK_DRAIN_MS (a
 * transfer in flight is aborted at that deadline), so the final
 * complete / failed / interrupted event is normally delivered and a dead
 * endpoint cannot hold up the exit of an interrupted study.
 *
 * The document (all keys always present, null where not applicable):
 *   {"event": "start"|"best"|"complete"|"failed"|"interrupted",
 *    "study": NAME, "study_id": ID, "time": "2026-11-27T09:12:03Z",
 *    "host": HOST, "iteration": K, "value": G (upper value g at K),
 *    "theta": [...] (up to 64 values, else null), "n_theta": P,
 *    "stop_reason": "max_iter" (complete/interrupted), "message": TEXT}
 * sent with Content-Type: application/json and User-Agent hyperd/VERSION.
 */
#ifndef HYPERD_DAEMON_WEBHOOK_H
#define HYPERD_DAEMON_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

enum {
  HYD_WEBHOOK_ATTEMPTS = 3,      /* tries per event */
  HYD_WEBHOOK_CONNECT_MS = 2000, /* per try */
  HYD_WEBHOOK_TOTAL_MS = 5000,   /* per try */
  HYD_WEBHOOK_QUEUE = 64,        /* events waiting at most */
  HYD_WEBHOOK_DRAIN_MS = 3000    /* close waits at most this long */
};

typedef struct hyd_webhook hyd_webhook;

/* What an event says; fields that do not apply: iteration < 0, value NaN,
 * theta NULL, strings NULL. All copied. */
typedef struct hyd_webhook_event {
  const char *event;       /* "start", "best", ... (required) */
  const char *study;       /* required */
  int64_t study_id;
  long iteration;
  double value;
  const double *theta;
  size_t n_theta;
  const char *stop_reason;
  const char *message;
} hyd_webhook_event;

/* 0 if `url` is an absolute http:// or https:// URL with a host; else 2
 * with "URL: fault" in err. */
int hyd_webhook_check_url(const char *url, char *err, size_t errsz);

/* Starts the delivery thread for `url` (copied). *out is NULL when `url`
 * is NULL (no webhook: every call below is then a no-op). 0 ok, 1 could
 * not start (out of memory, no thread, libcurl init failed: err says). */
int hyd_webhook_open(hyd_webhook **out, const char *url, char *err,
                     size_t errsz);
/* Queues one event; never blocks on the network. Accepts NULL. */
void hyd_webhook_post(hyd_webhook *w, const hyd_webhook_event *ev);
/* Waits at most HYD_WEBHOOK_DRAIN_MS for pending events, stops the thread
 * and frees. If some events were not delivered, writes one line about it
 * into `summary` (else ""); summary may be NULL. Accepts NULL. */
void hyd_webhook_close(hyd_webhook *w, char *summary, size_t n);

#endif
