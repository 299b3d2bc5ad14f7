/* data/table.h: numeric tables and what comes with them: header-free CSV,
 * the fixed split index files and the per-feature scaler files of
 * shared/data/splits. */
#ifndef HYPERD_DATA_TABLE_H
#define HYPERD_DATA_TABLE_H

#include <stddef.h>

/* Reads a header-free numeric CSV: comma-separated finite numbers (strtod
 * syntax, C locale), '\n' or "\r\n" line ends, optional blanks around a
 * field, optional final newline. Every row must have the same number of
 * columns. On success *data holds rows*cols values row-major and the caller
 * frees it with free(); on failure *data is NULL and err names the file,
 * line and column. An empty file is an error. */
int hyd_csv_read(const char *path, double **data, size_t *rows, size_t *cols, char *err,
                 size_t errsz);

/* Reads a split file: one 0-based row index per line, each < table_rows,
 * none repeated, at least one. On success *idx (caller frees) holds *count
 * indices in file order. */
int hyd_index_read(const char *path, size_t table_rows, size_t **idx, size_t *count, char *err,
                   size_t errsz);

/* Reads a scaler file: `features` lines "mean,std" with std finite and > 0
 * (the split files store 1 where a feature is constant). On success *mean
 * and *std (caller frees both) hold `features` values each. */
int hyd_scaler_read(const char *path, size_t features, double **mean, double **std, char *err,
                    size_t errsz);

#endif
