/* data/status.h: status codes of the data layer (readers and fetcher).
 *
 * Every fallible call returns one of these and, where it takes an
 * `err, errsz` pair, writes a one-line English message naming the file (or
 * URL) and the problem. Codes are append-only: a released value never changes
 * meaning, so scripts and the database may store them. */
#ifndef HYPERD_DATA_STATUS_H
#define HYPERD_DATA_STATUS_H

enum hyd_data_status {
  HYD_DATA_OK = 0,
  HYD_DATA_EINVAL = 1,       /* bad argument (NULL pointer, zero size, bad name) */
  HYD_DATA_ENOMEM = 2,       /* an allocation failed */
  HYD_DATA_EIO = 3,          /* a local file could not be opened, read or written */
  HYD_DATA_EFORMAT = 4,      /* malformed, truncated or mismatched file content */
  HYD_DATA_EUNKNOWN = 5,     /* no data set of that name in the registry */
  HYD_DATA_ECHECKSUM = 6,    /* downloaded or cached bytes do not match the checksum */
  HYD_DATA_ETRUNCATED = 7,   /* the transfer ended before the announced size */
  HYD_DATA_EHTTP = 8,        /* the server answered an error status (or file:// source missing) */
  HYD_DATA_EUNREACHABLE = 9, /* host unknown or refused the connection (offline?) */
  HYD_DATA_ETRANSFER = 10    /* any other transfer failure (TLS, timeout, protocol) */
};

/* Static English text for a status code; never NULL. */
const char *hyd_data_strstatus(int status);

#endif
