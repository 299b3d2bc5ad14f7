/* The dense kernels of multinomial logistic regression, blocked over rows
 * (internal to the library; used by logistic.c).
 *
 * A data pass computes logits Z = X_S W for a row set S and then adds
 * X_S^T U to a d x C result. Row by row, with C (the classes) innermost,
 * both loops are too short to vectorise well; here the weights are held
 * transposed (C x d), so that the logits are dot products over the d
 * features of HYD_LR_ROW_BLOCK rows at once and the accumulation is an
 * axpy over d, and the results come out in a fixed order: every clone and
 * every block size gives the same bits. */
#ifndef HYPERD_LOGISTIC_KERNELS_H
#define HYPERD_LOGISTIC_KERNELS_H

#include <stddef.h>

/* Rows per call of the kernels below: the scratch of a data pass holds
 * this many rows of logits. */
#define HYD_LR_ROWS 64

/* Z[i*C + c] = sum_j X[idx[i]*d + j] Wt[c*d + j], i < nr <= HYD_LR_ROWS. */
void hyd_lr_logits(size_t d, size_t C, const double *X, const size_t *idx,
                   size_t nr, const double *Wt, double *Z);

/* Gt[c*d + j] += sum_i U[i*C + c] X[idx[i]*d + j], i < nr. */
void hyd_lr_accumulate(size_t d, size_t C, const double *X, const size_t *idx,
                       size_t nr, const double *U, double *Gt);

/* out[c*rows + r] = in[r*cols + c]: rows x cols into cols x rows. */
void hyd_lr_transpose(size_t rows, size_t cols, const double *in, double *out);

#endif
