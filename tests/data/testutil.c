/* Test helpers: they abort() on setup failures, because a test whose
 * fixture is broken must fail loudly, not pass by accident. */
#include "testutil.h"

#include <dirent.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

char *tu_tmpdir(void) {
  const char *t = getenv("TMPDIR");
  char buf[4096];
  snprintf(buf, sizeof buf, "%s/hyd-data-test-XXXXXX", t != NULL && t[0] == '/' ? t : "/tmp");
  if (mkdtemp(buf) == NULL)
    abort();
  char *s = strdup(buf);
  if (s == NULL)
    abort();
  return s;
}

void tu_rmtree(const char *path) {
  if (path == NULL)
    return;
  struct stat st;
  if (lstat(path, &st) != 0)
    return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (d != NULL) {
      struct dirent *e;
      while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
          continue;
        char sub[4096];
        tu_join(sub, sizeof sub, path, e->d_name);
        tu_rmtree(sub);
      }
      closedir(d);
    }
    rmdir(path);
  } else {
    unlink(path);
  }
}

void tu_join(char *buf, size_t n, const char *a, const char *b) {
  int len = snprintf(buf, n, "%s/%s", a, b);
  if (len < 0 || (size_t)len >= n)
    abort();
}

static void mkparents(const char *path) {
  char p[4096];
  snprintf(p, sizeof p, "%s", path);
  for (char *s = p + 1; *s != '\0'; s++) {
    if (*s == '/') {
      *s = '\0';
      mkdir(p, 0755);
      *s = '/';
    }
  }
}

void tu_write(const char *path, const void *data, size_t n) {
  mkparents(path);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(data, 1, n, f) != n || fclose(f) != 0)
    abort();
}

unsigned char *tu_read(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  size_t cap = 1 << 16, len = 0;
  unsigned char *b = malloc(cap + 1);
  size_t got;
  while (b != NULL && (got = fread(b + len, 1, cap - len, f)) > 0) {
    len += got;
    if (len == cap) {
      cap *= 2;
      unsigned char *nb = realloc(b, cap + 1);
      if (nb == NULL)
        free(b);
      b = nb;
    }
  }
  fclose(f);
  if (b == NULL)
    abort();
  b[len] = 0;
  *n = len;
  return b;
}

size_t tu_count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return 0;
  size_t k = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    char sub[4096];
    tu_join(sub, sizeof sub, dir, e->d_name);
    k += 1 + tu_count_entries(sub);
  }
  closedir(d);
  return k;
}

void tu_copy(const char *from, const char *to) {
  size_t n;
  unsigned char *b = tu_read(from, &n);
  if (b == NULL)
    abort();
  tu_write(to, b, n);
  free(b);
}

static int channels_of(int color_type) {
  switch (color_type) {
  case PNG_COLOR_TYPE_GRAY: return 1;
  case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
  case PNG_COLOR_TYPE_RGB: return 3;
  case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
  default: return 1; /* palette index */
  }
}

int tu_write_png(const char *path, unsigned w, unsigned h, int color_type, int bit_depth,
                 int interlace, const unsigned short *samples, const unsigned char *palette,
                 int npal) {
  mkparents(path);
  FILE *f = fopen(path, "wb");
  if (f == NULL)
    return -1;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png != NULL ? png_create_info_struct(png) : NULL;
  size_t c = (size_t)channels_of(color_type);
  size_t bps = bit_depth == 16 ? 2 : 1;
  unsigned char *row = malloc(w * c * bps);
  unsigned char **rows = malloc(h * sizeof *rows);
  unsigned char *img = malloc((size_t)w * h * c * bps);
  if (png == NULL || info == NULL || row == NULL || rows == NULL || img == NULL || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    fclose(f);
    free(row);
    free(rows);
    free(img);
    return -1;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, w, h, bit_depth, color_type,
               interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (color_type == PNG_COLOR_TYPE_PALETTE)
    png_set_PLTE(png, info, (png_const_colorp)palette, npal);
  png_write_info(png, info);
  if (bit_depth < 8)
    png_set_packing(png);
  for (size_t y = 0; y < h; y++) {
    unsigned char *r = img + y * w * c * bps;
    for (size_t i = 0; i < w * c; i++) {
      unsigned short v = samples[y * w * c + i];
      if (bps == 2) {
        r[2 * i] = (unsigned char)(v >> 8);
        r[2 * i + 1] = (unsigned char)(v & 255);
      } else {
        r[i] = (unsigned char)v;
      }
    }
    rows[y] = r;
  }
  png_write_image(png, rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  free(row);
  free(rows);
  free(img);
  return fclose(f) == 0 ? 0 : -1;
}

void tu_write_gz(const char *path, const void *data, size_t n) {
  mkparents(path);
  gzFile g = gzopen(path, "wb");
  if (g == NULL || (n > 0 && gzwrite(g, data, (unsigned)n) != (int)n) || gzclose(g) != Z_OK)
    abort();
}
