#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <hyperd/status.h>

#include "webhook.h"

/* theta is sent only up to this size: the document stays small, and a
 * large theta (images, filters) is in the database anyway. */
#define THETA_MAX 64

/* At most one "best" event per this many ms; the newest one is sent. */
#define BEST_INTERVAL_MS 1000L

typedef struct pending {
  char *body;
  unsigned long seq; /* posting order */
} pending;

struct hyd_webhook {
  char *url;
  char host[256];
  char agent[64];
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t wake;  /* to the thread: an event or close */
  pthread_cond_t done;  /* from the thread: it has finished */
  pending q[HYD_WEBHOOK_QUEUE]; /* every event but "best" */
  size_t head, len;
  pending best;                 /* the newest undelivered best, if any */
  unsigned long seq;
  struct timespec next_best;    /* CLOCK_MONOTONIC: earliest next best */
  int closing, finished;
  atomic_int abort_now; /* read by libcurl's progress callback */
  unsigned long posted, delivered, failed, dropped;
  char last_error[CURL_ERROR_SIZE + 64];
};

int hyd_webhook_check_url(const char *url, char *err, size_t errsz)
{
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL;
  int ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
           curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
           curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
           host[0] != '\0';
  int http = ok && (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
  if (!ok)
    snprintf(err, errsz, "%s: not a valid absolute URL", url);
  else if (!http)
    snprintf(err, errsz, "%s: the webhook must be an http:// or https:// URL",
             url);
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return ok && http ? 0 : 2;
}

static size_t discard(char *data, size_t size, size_t n, void *user)
{
  (void)data;
  (void)user;
  return size * n;
}

static int on_progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                       curl_off_t un)
{
  (void)dt;
  (void)dn;
  (void)ut;
  (void)un;
  hyd_webhook *w = user;
  return atomic_load(&w->abort_now); /* non-zero aborts the transfer */
}

/* Pauses between tries, waking early when close gives up. */
static void pause_ms(hyd_webhook *w, long ms)
{
  struct timespec step = {0, 50L * 1000000L};
  for (long t = 0; t < ms && !atomic_load(&w->abort_now); t += 50)
    nanosleep(&step, NULL);
}

/* One event, up to HYD_WEBHOOK_ATTEMPTS tries. 0 delivered. */
static int deliver(hyd_webhook *w, CURL *h, const char *body)
{
  char detail[CURL_ERROR_SIZE];
  struct curl_slist *headers =
      curl_slist_append(NULL, "Content-Type: application/json");
  curl_easy_setopt(h, CURLOPT_URL, w->url);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_USERAGENT, w->agent);
  /* This thread must not get SIGALRM from the resolver: signals belong
   * to the main thread (SIGTERM interrupts the study). */
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)HYD_WEBHOOK_CONNECT_MS);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)HYD_WEBHOOK_TOTAL_MS);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, w);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
  int ok = 0;
  for (int attempt = 0; attempt < HYD_WEBHOOK_ATTEMPTS && !ok; attempt++) {
    if (attempt > 0)
      pause_ms(w, 250L << attempt);
    if (atomic_load(&w->abort_now))
      break;
    detail[0] = '\0';
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    ok = rc == CURLE_OK && status >= 200 && status < 300;
    if (ok)
      break;
    pthread_mutex_lock(&w->mu);
    if (rc != CURLE_OK)
      snprintf(w->last_error, sizeof w->last_error, "%s",
               detail[0] ? detail : curl_easy_strerror(rc));
    else
      snprintf(w->last_error, sizeof w->last_error, "HTTP status %ld", status);
    pthread_mutex_unlock(&w->mu);
    /* A client error other than timeout / rate limit will not change. */
    if (rc == CURLE_OK && status >= 400 && status < 500 && status != 408 &&
        status != 429)
      break;
  }
  /* The handle is reused: leave it no pointer into this frame or to the
   * body, which is freed next. */
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
  curl_slist_free_all(headers);
  return ok ? 0 : -1;
}

static void add_ms(struct timespec *t, long ms)
{
  t->tv_sec += ms / 1000;
  t->tv_nsec += (ms % 1000) * 1000000L;
  if (t->tv_nsec >= 1000000000L) {
    t->tv_sec++;
    t->tv_nsec -= 1000000000L;
  }
}

static int reached(const struct timespec *t)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec > t->tv_sec ||
         (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* The next event to send, in posting order, under the lock; waits for one.
 * A best goes out early when a later event or close is waiting behind it
 * (order is kept), else not before next_best. body NULL: finished. */
static pending next_event(hyd_webhook *w, int *is_best)
{
  pending none = {NULL, 0};
  for (;;) {
    if (atomic_load(&w->abort_now))
      return none;
    int best_first = w->best.body &&
                     (w->len == 0 || w->best.seq < w->q[w->head].seq);
    if (best_first && (w->len > 0 || w->closing || reached(&w->next_best))) {
      pending p = w->best;
      w->best = none;
      *is_best = 1;
      return p;
    }
    if (best_first) {
      pthread_cond_timedwait(&w->wake, &w->mu, &w->next_best);
      continue;
    }
    if (w->len > 0) {
      pending p = w->q[w->head];
      w->head = (w->head + 1) % HYD_WEBHOOK_QUEUE;
      w->len--;
      *is_best = 0;
      return p;
    }
    if (w->closing)
      return none;
    pthread_cond_wait(&w->wake, &w->mu);
  }
}

static void *deliver_loop(void *arg)
{
  hyd_webhook *w = arg;
  CURL *h = curl_easy_init(); /* kept: reuses the connection */
  pthread_mutex_lock(&w->mu);
  for (;;) {
    int is_best = 0;
    pending p = next_event(w, &is_best);
    if (!p.body)
      break;
    pthread_mutex_unlock(&w->mu);
    int rc = h ? deliver(w, h, p.body) : -1;
    free(p.body);
    pthread_mutex_lock(&w->mu);
    if (is_best) {
      clock_gettime(CLOCK_MONOTONIC, &w->next_best);
      add_ms(&w->next_best, BEST_INTERVAL_MS);
    }
    if (rc == 0)
      w->delivered++;
    else
      w->failed++;
    if (!h)
      snprintf(w->last_error, sizeof w->last_error, "libcurl: no handle");
  }
  /* Given up at close: what is left is dropped. */
  if (w->best.body) {
    free(w->best.body);
    w->dropped++;
  }
  for (; w->len > 0; w->len--) {
    free(w->q[w->head].body);
    w->head = (w->head + 1) % HYD_WEBHOOK_QUEUE;
    w->dropped++;
  }
  w->finished = 1;
  pthread_cond_signal(&w->done);
  pthread_mutex_unlock(&w->mu);
  curl_easy_cleanup(h);
  return NULL;
}

/* Frees a handle whose thread is not running (never started, or joined). */
static void release(hyd_webhook *w)
{
  pthread_cond_destroy(&w->done);
  pthread_cond_destroy(&w->wake);
  pthread_mutex_destroy(&w->mu);
  free(w->url);
  free(w);
  curl_global_cleanup();
}

int hyd_webhook_open(hyd_webhook **out, const char *url, char *err,
                     size_t errsz)
{
  *out = NULL;
  if (!url)
    return 0;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(err, errsz, "webhook: libcurl could not be initialised");
    return 1;
  }
  hyd_webhook *w = calloc(1, sizeof *w);
  if (w)
    w->url = strdup(url);
  if (!w || !w->url) {
    free(w);
    curl_global_cleanup();
    snprintf(err, errsz, "webhook: out of memory");
    return 1;
  }
  gethostname(w->host, sizeof w->host - 1);
  snprintf(w->agent, sizeof w->agent, "hyperd/%s", hyd_version());
  atomic_init(&w->abort_now, 0);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->wake, &ca);
  pthread_cond_init(&w->done, &ca);
  pthread_condattr_destroy(&ca);
  /* The thread starts with every signal blocked, so SIGTERM / SIGINT are
   * always handled by the main thread, where they interrupt the solver
   * and the daemon's sleep. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&w->thread, NULL, deliver_loop, w);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0) {
    snprintf(err, errsz, "webhook: cannot start its thread: %s", strerror(rc));
    release(w);
    return 1;
  }
  *out = w;
  return 0;
}

static char *format(const hyd_webhook *w, const hyd_webhook_event *ev)
{
  char when[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  cJSON_AddStringToObject(o, "event", ev->event);
  cJSON_AddStringToObject(o, "study", ev->study);
  cJSON_AddNumberToObject(o, "study_id", (double)ev->study_id);
  cJSON_AddStringToObject(o, "time", when);
  cJSON_AddStringToObject(o, "host", w->host);
  if (ev->iteration >= 0)
    cJSON_AddNumberToObject(o, "iteration", (double)ev->iteration);
  else
    cJSON_AddNullToObject(o, "iteration");
  if (isfinite(ev->value))
    cJSON_AddNumberToObject(o, "value", ev->value);
  else
    cJSON_AddNullToObject(o, "value");
  if (ev->theta && ev->n_theta <= THETA_MAX) {
    cJSON *t = cJSON_AddArrayToObject(o, "theta");
    for (size_t j = 0; t && j < ev->n_theta; j++) {
      /* A non-finite entry would make the document invalid JSON. */
      cJSON *v = isfinite(ev->theta[j]) ? cJSON_CreateNumber(ev->theta[j])
                                        : cJSON_CreateNull();
      if (!v || !cJSON_AddItemToArray(t, v))
        cJSON_Delete(v);
    }
  } else {
    cJSON_AddNullToObject(o, "theta");
  }
  cJSON_AddNumberToObject(o, "n_theta", (double)ev->n_theta);
  if (ev->stop_reason)
    cJSON_AddStringToObject(o, "stop_reason", ev->stop_reason);
  else
    cJSON_AddNullToObject(o, "stop_reason");
  if (ev->message)
    cJSON_AddStringToObject(o, "message", ev->message);
  else
    cJSON_AddNullToObject(o, "message");
  char *text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return text;
}

void hyd_webhook_post(hyd_webhook *w, const hyd_webhook_event *ev)
{
  if (!w || !ev || !ev->event || !ev->study)
    return;
  char *body = format(w, ev);
  int is_best = strcmp(ev->event, "best") == 0;
  pthread_mutex_lock(&w->mu);
  w->posted++;
  if (!body) {
    w->dropped++;
    snprintf(w->last_error, sizeof w->last_error, "out of memory");
    pthread_mutex_unlock(&w->mu);
    return;
  }
  unsigned long seq = ++w->seq;
  if (is_best) {
    if (w->best.body) {
      /* Superseded before it went out: not a loss, the newer best says
       * more. */
      free(w->best.body);
      w->posted--;
    }
    w->best = (pending){body, seq};
  } else if (w->len == HYD_WEBHOOK_QUEUE) {
    free(body);
    w->dropped++;
    snprintf(w->last_error, sizeof w->last_error, "queue full");
  } else {
    w->q[(w->head + w->len) % HYD_WEBHOOK_QUEUE] = (pending){body, seq};
    w->len++;
  }
  pthread_cond_signal(&w->wake);
  pthread_mutex_unlock(&w->mu);
}

void hyd_webhook_close(hyd_webhook *w, char *summary, size_t n)
{
  if (summary && n)
    summary[0] = '\0';
  if (!w)
    return;
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  add_ms(&deadline, HYD_WEBHOOK_DRAIN_MS);
  pthread_mutex_lock(&w->mu);
  w->closing = 1;
  pthread_cond_signal(&w->wake);
  while (!w->finished)
    if (pthread_cond_timedwait(&w->done, &w->mu, &deadline) == ETIMEDOUT)
      break;
  if (!w->finished)
    atomic_store(&w->abort_now, 1); /* libcurl's progress callback sees it */
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->thread, NULL);
  unsigned long lost = w->failed + w->dropped;
  if (lost && summary && n)
    snprintf(summary, n, "webhook %s: %lu of %lu events not delivered (%s)",
             w->url, lost, w->posted, w->last_error);
  release(w);
}
