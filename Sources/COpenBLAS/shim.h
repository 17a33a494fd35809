// Thin shim over OpenBLAS's CBLAS interface.
#ifndef SCORESERVE_COPENBLAS_SHIM_H
#define SCORESERVE_COPENBLAS_SHIM_H
#include <cblas.h>

/// Pins OpenBLAS to one thread: ScoreServe parallelises across trajectories with
/// Dispatch, and nested BLAS threads would oversubscribe the cores.
static inline void sb_set_single_threaded(void) { openblas_set_num_threads(1); }
static inline int sb_num_threads(void) { return openblas_get_num_threads(); }
static inline const char *sb_config(void) { return openblas_get_config(); }
static inline const char *sb_core_name(void) { return openblas_get_corename(); }
/// 0 for a sequential build (USE_THREAD=0), 1 for pthreads, 2 for OpenMP.
static inline int sb_parallel(void) { return openblas_get_parallel(); }
#endif
