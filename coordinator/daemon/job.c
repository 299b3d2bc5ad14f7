#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "job.h"
#include "mpi_oracle.h"
#include "rowsplit.h"

static int job_rank, job_size = 1, job_inited;

/* Whether a launcher started this process as one rank of a job: Open MPI's
 * mpirun, a PMIx or PMI launcher (srun, MPICH's hydra) set these. Alone,
 * MPI_Init would only start a singleton job (Open MPI forks its runtime
 * daemon, about half a second) to end up with one rank anyway. */
static int launched_as_rank(void)
{
  static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK",
                               "PMI_RANK", "PMI_SIZE", "SLURM_PROCID",
                               "MPI_LOCALNRANKS"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    if (getenv(vars[i]))
      return 1;
  return 0;
}

int hyd_job_init(int *argc, char ***argv)
{
  if (!launched_as_rank() && !getenv("HYPERD_MPI_INIT"))
    return 0; /* one process, serial oracle: no MPI call is made */
  /* FUNNELED: only the main thread calls MPI (the webhook thread never
   * does). */
  int provided;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) !=
      MPI_SUCCESS)
    return 1;
  job_inited = 1;
  if (MPI_Comm_rank(MPI_COMM_WORLD, &job_rank) != MPI_SUCCESS ||
      MPI_Comm_size(MPI_COMM_WORLD, &job_size) != MPI_SUCCESS)
    return 1;
  return 0;
}

void hyd_job_finalize(void)
{
  if (job_inited)
    MPI_Finalize();
  job_inited = 0;
}

int hyd_job_rank(void) { return job_rank; }
int hyd_job_size(void) { return job_size; }

/* What rank 0 announces before each study (or the end). */
typedef struct header {
  int64_t kind; /* 1: a study follows, 0: quit */
  int64_t text_len, dir_len, name_len;
} header;

static int bcast_bytes(char *buf, int64_t len)
{
  return MPI_Bcast(buf, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD) == MPI_SUCCESS
             ? 0
             : 1;
}

/* Every rank's status, the worst wins: all ranks take the same branch. */
static int agree(int rc)
{
  int worst = rc;
  if (MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) !=
      MPI_SUCCESS)
    return 1;
  return worst;
}

int hyd_job_start(hyd_session *s, char *err, size_t errsz)
{
  if (job_size == 1)
    return 0;
  header h = {1, (int64_t)strlen(s->study.text) + 1,
              (int64_t)strlen(s->study.dir) + 1,
              (int64_t)strlen(s->study.name) + 1};
  if (MPI_Bcast(&h, 4, MPI_INT64_T, 0, MPI_COMM_WORLD) != MPI_SUCCESS ||
      bcast_bytes(s->study.text, h.text_len) ||
      bcast_bytes(s->study.dir, h.dir_len) ||
      bcast_bytes(s->study.name, h.name_len)) {
    snprintf(err, errsz, "sending the study to the workers failed");
    return 1;
  }
  if (agree(0) != 0) {
    snprintf(err, errsz, "a worker rank could not build the problem (is the "
             "data readable on every node?)");
    return 1;
  }
  hyd_rowsplit *rs = hyd_rowsplit_of(s->built.problem);
  if (rs) {
    /* "parallel": "rows": one problem whose rows every rank shares; MAID
     * keeps its serial oracle, the table's callbacks do the MPI work. */
    int rrc = hyd_rowsplit_connect(rs, MPI_COMM_WORLD);
    if (rrc != 0) {
      snprintf(err, errsz, "connecting the row blocks failed: %s (%s)",
               hyd_mpi_strerror(rrc), hyd_rowsplit_errmsg(rs));
      return 1;
    }
    return 0;
  }
  hyd_mpi_oracle *mo = NULL;
  int rc = hyd_mpi_oracle_create(&mo, s->built.problem, s->theta_buf,
                                 MPI_COMM_WORLD, NULL);
  if (agree(rc != 0) != 0) {
    snprintf(err, errsz, "creating the MPI oracle failed: %s",
             rc ? hyd_mpi_strerror(rc) : "on a worker");
    hyd_mpi_oracle_destroy(mo);
    return 1;
  }
  s->mpi = mo;
  if (hyd_maid_set_oracle(s->solver, hyd_mpi_oracle_as_oracle(mo)) != HYD_OK) {
    snprintf(err, errsz, "%s", hyd_maid_errmsg(s->solver));
    hyd_job_stop(s);
    return 1;
  }
  return 0;
}

void hyd_job_stop(hyd_session *s)
{
  hyd_rowsplit *rs = hyd_rowsplit_of(s->built.problem);
  if (rs && job_rank == 0)
    hyd_rowsplit_shutdown(rs); /* nothing if it never connected */
  if (!s->mpi)
    return;
  hyd_mpi_oracle_shutdown(s->mpi);
  hyd_mpi_oracle_destroy(s->mpi);
  s->mpi = NULL;
}

void hyd_job_quit(void)
{
  if (job_size == 1 || job_rank != 0)
    return;
  header h = {0, 0, 0, 0};
  MPI_Bcast(&h, 4, MPI_INT64_T, 0, MPI_COMM_WORLD);
}

/* One study on a worker: build it as rank 0 did, serve, release. */
static int serve_study(const header *h)
{
  char *text = malloc((size_t)h->text_len), *dir = malloc((size_t)h->dir_len);
  char *name = malloc((size_t)h->name_len);
  int rc = text && dir && name ? 0 : 1;
  /* The broadcasts are collective: take part even without memory. */
  char dummy;
  if (bcast_bytes(text ? text : &dummy, text ? h->text_len : 0) ||
      bcast_bytes(dir ? dir : &dummy, dir ? h->dir_len : 0) ||
      bcast_bytes(name ? name : &dummy, name ? h->name_len : 0))
    rc = 1;
  hyd_session s;
  memset(&s, 0, sizeof s);
  s.quiet = 1;
  char err[1024];
  if (!rc)
    rc = hyd_study_parse(text, dir, name, &s.study, err, sizeof err);
  if (!rc)
    rc = hyd_session_prepare(&s, err, sizeof err);
  if (rc)
    fprintf(stderr, "hyperd (rank %d): %s\n", job_rank, rc ? err : "");
  free(text);
  free(dir);
  free(name);
  int status = 0;
  hyd_rowsplit *rs = rc ? NULL : hyd_rowsplit_of(s.built.problem);
  int built = agree(rc) == 0;
  if (built && rs) {
    /* row split: connect (collective, same status everywhere), serve */
    if (hyd_rowsplit_connect(rs, MPI_COMM_WORLD) == 0 &&
        hyd_rowsplit_serve(rs) != 0) {
      fprintf(stderr, "hyperd (rank %d): %s\n", job_rank,
              hyd_rowsplit_errmsg(rs));
      status = 1;
    }
  } else if (built) {
    hyd_mpi_oracle *mo = NULL;
    int crc = hyd_mpi_oracle_create(&mo, s.built.problem, s.theta_buf,
                                    MPI_COMM_WORLD, NULL);
    if (agree(crc != 0) == 0) {
      int src = hyd_mpi_worker_serve(mo);
      if (src != 0) {
        fprintf(stderr, "hyperd (rank %d): %s\n", job_rank,
                hyd_mpi_oracle_errmsg(mo));
        status = 1;
      }
    }
    hyd_mpi_oracle_destroy(mo);
  }
  hyd_session_close(&s);
  return status;
}

int hyd_job_worker(void)
{
  int status = 0;
  for (;;) {
    header h;
    if (MPI_Bcast(&h, 4, MPI_INT64_T, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
      return 1;
    if (h.kind == 0)
      return status;
    if (serve_study(&h) != 0)
      status = 1;
  }
}
