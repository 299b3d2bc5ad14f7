/* The loopback test server (see httpd.h). Deliberately simple: blocking
 * sockets, one thread, one request per connection. */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

struct test_httpd {
  int fd;
  int port;
  int stop;
  int requests;
  char root[4096];
  pthread_t thread;
  pthread_mutex_t lock;
};

static void send_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return;
    p += k;
    n -= (size_t)k;
  }
}

static void send_status(int fd, int code, const char *text) {
  char h[256];
  int n = snprintf(h, sizeof h,
                   "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s",
                   code, text, strlen(text), text);
  send_all(fd, h, (size_t)n);
}

static void send_head(int fd, size_t length) {
  char h[256];
  int n = snprintf(h, sizeof h,
                   "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                   length);
  send_all(fd, h, (size_t)n);
}

/* Answers the modes that need no file; returns 1 if it answered. */
static int serve_fixed(int fd, const char *mode, const char *rel) {
  if (strcmp(mode, "404") == 0) {
    send_status(fd, 404, "not found");
  } else if (strcmp(mode, "500") == 0) {
    send_status(fd, 500, "internal server error");
  } else if (strcmp(mode, "redirect") == 0) {
    char h[4400];
    int n = snprintf(h, sizeof h,
                     "HTTP/1.1 302 Found\r\nLocation: /files/%s\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n",
                     rel);
    send_all(fd, h, (size_t)n);
  } else if (strcmp(mode, "html") == 0) {
    const char *page = "<html><body>Sorry, this file moved.</body></html>\n";
    send_head(fd, strlen(page));
    send_all(fd, page, strlen(page));
  } else {
    return 0;
  }
  return 1;
}

/* Answers with the file's bytes, well or badly as the mode says. */
static void serve_file(int fd, const char *mode, unsigned char *b, size_t n) {
  if (strcmp(mode, "files") == 0) {
    send_head(fd, n);
    send_all(fd, b, n);
  } else if (strcmp(mode, "corrupt") == 0) {
    if (n > 0)
      b[0] ^= 0x01;
    send_head(fd, n);
    send_all(fd, b, n);
  } else if (strcmp(mode, "short") == 0) {
    send_head(fd, n);       /* announces all of it ... */
    send_all(fd, b, n / 2); /* ... sends half, then closes */
  } else if (strcmp(mode, "chunked") == 0) {
    const char *h = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    char size[32];
    int k = snprintf(size, sizeof size, "%zx\r\n", n / 2);
    send_all(fd, h, strlen(h));
    send_all(fd, size, (size_t)k);
    send_all(fd, b, n / 2);
    send_all(fd, "\r\n", 2); /* no terminating 0-size chunk */
  } else {
    send_status(fd, 400, "unknown mode");
  }
}

static void serve(struct test_httpd *s, int fd) {
  char req[8192] = "";
  size_t len = 0;
  while (len < sizeof req - 1 && strstr(req, "\r\n\r\n") == NULL) {
    ssize_t k = recv(fd, req + len, sizeof req - 1 - len, 0);
    if (k <= 0)
      return;
    len += (size_t)k;
    req[len] = '\0';
  }
  char path[4096];
  char *mode = path + 1, *rel = NULL;
  if (sscanf(req, "GET %4095s ", path) == 1)
    rel = strchr(mode, '/');
  if (rel == NULL || strstr(rel, "..") != NULL) {
    send_status(fd, 400, "bad request");
    return;
  }
  *rel++ = '\0';
  if (serve_fixed(fd, mode, rel))
    return;
  char file[8192];
  snprintf(file, sizeof file, "%s/%s", s->root, rel);
  size_t n;
  unsigned char *b = tu_read(file, &n);
  if (b == NULL) {
    send_status(fd, 404, "not found");
    return;
  }
  serve_file(fd, mode, b, n);
  free(b);
}

static void *loop(void *arg) {
  struct test_httpd *s = arg;
  for (;;) {
    int c = accept(s->fd, NULL, NULL);
    pthread_mutex_lock(&s->lock);
    int stop = s->stop;
    pthread_mutex_unlock(&s->lock);
    if (stop) {
      if (c >= 0)
        close(c);
      return NULL;
    }
    if (c < 0)
      continue;
    serve(s, c);
    pthread_mutex_lock(&s->lock);
    s->requests++;
    pthread_mutex_unlock(&s->lock);
    shutdown(c, SHUT_WR);
    close(c);
  }
}

static int bind_loopback(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t al = sizeof a;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
    close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

test_httpd *test_httpd_start(const char *root) {
  struct test_httpd *s = calloc(1, sizeof *s);
  if (s == NULL)
    abort();
  snprintf(s->root, sizeof s->root, "%s", root);
  s->fd = bind_loopback(&s->port);
  if (s->fd < 0 || listen(s->fd, 16) != 0)
    abort();
  pthread_mutex_init(&s->lock, NULL);
  if (pthread_create(&s->thread, NULL, loop, s) != 0)
    abort();
  return s;
}

int test_httpd_port(const test_httpd *s) { return s->port; }

int test_httpd_requests(const test_httpd *s) {
  pthread_mutex_lock((pthread_mutex_t *)&s->lock);
  int n = s->requests;
  pthread_mutex_unlock((pthread_mutex_t *)&s->lock);
  return n;
}

void test_httpd_stop(test_httpd *s) {
  if (s == NULL)
    return;
  pthread_mutex_lock(&s->lock);
  s->stop = 1;
  pthread_mutex_unlock(&s->lock);
  /* Wake the blocked accept() with a connection of our own. */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((unsigned short)s->port);
  if (fd >= 0) {
    (void)connect(fd, (struct sockaddr *)&a, sizeof a);
    close(fd);
  }
  pthread_join(s->thread, NULL);
  close(s->fd);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

int test_closed_port(void) {
  int port;
  int fd = bind_loopback(&port);
  if (fd < 0)
    abort();
  close(fd); /* bound but never listening, now closed: connect is refused */
  return port;
}
