// A batch of spectra decomposed on a pool of std::threads, each with its own workspace.
#ifndef PHS_FIT_BATCH_H_
#define PHS_FIT_BATCH_H_

#include <string>
#include <vector>

#include "decompose.h"

namespace phs {

struct BatchOptions {
  int threads = 1;          // worker threads (the calling thread is one of them)
  double timeout_ms = 0.0;  // per-spectrum budget; <= 0 or non-finite: none
};

// cube is spectrum-major [n_spectra][n_channels]; out[s] is spectrum s's result whatever
// thread computed it (each spectrum is computed alone, so the bits do not depend on the
// thread count or on the other spectra). Returns an empty string, or the reason the batch
// failed (e.g. out of memory); never throws.
std::string decompose_batch(const float* cube, int n_spectra, int n_channels, const FitParams& params,
                     const BatchOptions& options, std::vector<Decomposition>& out);

}  // namespace phs

#endif  // PHS_FIT_BATCH_H_
