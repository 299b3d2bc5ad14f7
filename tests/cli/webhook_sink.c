/* webhook_sink MODE PORTFILE BODYFILE: a tiny HTTP receiver on 127.0.0.1
 * for the webhook tests. It writes its port into PORTFILE once listening,
 * then appends the body of every POST it gets to BODYFILE, one per line.
 *   ok    answers 204 to every request
 *   fail  answers 500 (the daemon must retry, then give up)
 *   hang  accepts connections and never answers (the daemon's timeouts)
 * Runs until killed; one connection at a time. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static void answer(int fd, const char *mode, FILE *bodies)
{
  char buf[65536];
  size_t len = 0;
  char *end = NULL;
  while (!end && len < sizeof buf - 1) {
    ssize_t got = read(fd, buf + len, sizeof buf - 1 - len);
    if (got <= 0)
      return;
    len += (size_t)got;
    buf[len] = '\0';
    end = strstr(buf, "\r\n\r\n");
  }
  if (!end)
    return;
  size_t want = 0;
  for (char *h = buf; h < end;) {
    if (strncasecmp(h, "Content-Length:", 15) == 0)
      want = (size_t)strtoul(h + 15, NULL, 10);
    char *nl = strstr(h, "\r\n");
    if (!nl)
      break;
    h = nl + 2;
  }
  size_t head = (size_t)(end + 4 - buf);
  while (len - head < want && len < sizeof buf - 1) {
    ssize_t got = read(fd, buf + len, sizeof buf - 1 - len);
    if (got <= 0)
      break;
    len += (size_t)got;
  }
  fprintf(bodies, "%.*s\n", (int)(len - head), buf + head);
  fflush(bodies);
  const char *reply = strcmp(mode, "fail") == 0
                          ? "HTTP/1.1 500 Internal Server Error\r\n"
                            "Content-Length: 0\r\nConnection: close\r\n\r\n"
                          : "HTTP/1.1 204 No Content\r\n"
                            "Connection: close\r\n\r\n";
  ssize_t put = write(fd, reply, strlen(reply));
  (void)put;
}

int main(int argc, char **argv)
{
  if (argc != 4) {
    fprintf(stderr, "usage: webhook_sink ok|fail|hang PORTFILE BODYFILE\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 64) != 0 ||
      getsockname(s, (struct sockaddr *)&a, &alen) != 0) {
    perror("webhook_sink");
    return 1;
  }
  FILE *bodies = fopen(argv[3], "a");
  FILE *port = fopen(argv[2], "w");
  if (!bodies || !port) {
    perror("webhook_sink");
    return 1;
  }
  fprintf(port, "%d\n", ntohs(a.sin_port));
  fclose(port);
  for (;;) {
    int fd = accept(s, NULL, NULL);
    if (fd < 0)
      continue;
    if (strcmp(argv[1], "hang") == 0)
      continue; /* kept open, never answered */
    answer(fd, argv[1], bodies);
    close(fd);
  }
}
