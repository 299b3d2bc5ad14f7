/* The registry: a constant table, so that it is the same in every process
 * and can be listed without any I/O.
 *
 * Where the checksums come from (only digests verified on this project's
 * machines are recorded):
 * - kodak: the 24 originals (768x512 RGB PNG) have never been downloaded
 *   here (no network), so their sha256 is unknown (NULL): the fetcher checks
 *   that each download is a PNG and reports the digest it saw, to be added
 *   here once verified.
 * - fashion-mnist: upstream publishes MD5s of its .gz files
 *   (train-images 8d4fb7e6c68d591d4c3dfef9ec88bf0d, train-labels
 *   25c81989df183df01b3e8a0aad5dffbe, t10k-images
 *   bef4ecab320f06d8554ea6380940ec79, t10k-labels
 *   bb300cfdad3c16e7a12a480ee83cd310). Debian's dataset-fashion-mnist
 *   recompresses the files (its .gz bytes differ from upstream's), so the
 *   .gz sha256 we can compute here would reject upstream's downloads.
 *   We record instead the sha256 of the decompressed IDX content, computed
 *   from the Debian package's files, which is the same for any compression.
 * - digits: sha256 from shared/data/SHA256SUMS; no public URL serves this
 *   exact file, so it is fetched from a --base-url (e.g. the shared folder). */
#include <string.h>

#include "data/registry.h"

#define KODAK(nn) {"kodim" #nn ".png", NULL, NULL}

static const hyd_dataset_file kodak_files[] = {
    KODAK(01), KODAK(02), KODAK(03), KODAK(04), KODAK(05), KODAK(06), KODAK(07), KODAK(08),
    KODAK(09), KODAK(10), KODAK(11), KODAK(12), KODAK(13), KODAK(14), KODAK(15), KODAK(16),
    KODAK(17), KODAK(18), KODAK(19), KODAK(20), KODAK(21), KODAK(22), KODAK(23), KODAK(24),
};

static const hyd_dataset_file fashion_files[] = {
    {"train-images-idx3-ubyte.gz", NULL,
     "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"},
    {"train-labels-idx1-ubyte.gz", NULL,
     "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
    {"t10k-images-idx3-ubyte.gz", NULL,
     "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"},
    {"t10k-labels-idx1-ubyte.gz", NULL,
     "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
};

static const hyd_dataset_file digits_files[] = {
    {"tables/digits.csv", "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8", NULL},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const hyd_dataset registry[] = {
    {"kodak", "Kodak PhotoCD suite, 24 originals, 768x512 RGB PNG",
     "http://r0k.us/graphics/kodak/kodak/", "free for research use (Kodak)", COUNT(kodak_files),
     kodak_files},
    {"fashion-mnist", "Fashion-MNIST, 60000 train + 10000 test 28x28 gray, gzip'd IDX",
     "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", "MIT (Zalando Research)",
     COUNT(fashion_files), fashion_files},
    {"digits", "UCI optical digits (test part), 1797 x 65 CSV, label last", NULL,
     "attribution (UCI; Alpaydin, Kaynak 1998)", COUNT(digits_files), digits_files},
};

size_t hyd_dataset_count(void) { return COUNT(registry); }

const hyd_dataset *hyd_dataset_at(size_t i) { return i < COUNT(registry) ? &registry[i] : NULL; }

const hyd_dataset *hyd_dataset_find(const char *name) {
  if (name == NULL)
    return NULL;
  for (size_t i = 0; i < COUNT(registry); i++)
    if (strcmp(registry[i].name, name) == 0)
      return &registry[i];
  return NULL;
}
