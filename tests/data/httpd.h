/* A tiny HTTP/1.1 server on 127.0.0.1 for the fetch tests, in a thread.
 * It serves files below `root`, and misbehaves on request by path prefix:
 *   /files/REL    200, the file
 *   /corrupt/REL  200, the file with its first byte flipped
 *   /short/REL    Content-Length of the whole file, half of it, then close
 *   /chunked/REL  chunked encoding, one chunk of half the file, then close
 *   /html/REL     200, an HTML error page instead of the file
 *   /redirect/REL 302 to /files/REL
 *   /404/REL      404        /500/REL  500
 * One connection at a time; every response closes the connection. */
#ifndef HYD_DATA_HTTPD_H
#define HYD_DATA_HTTPD_H

typedef struct test_httpd test_httpd;

test_httpd *test_httpd_start(const char *root);
int test_httpd_port(const test_httpd *s);
/* Requests served so far. */
int test_httpd_requests(const test_httpd *s);
void test_httpd_stop(test_httpd *s);

/* A 127.0.0.1 port with nothing listening (bound, read, then closed). */
int test_closed_port(void);

#endif
