// The whole decomposition of one spectrum: blank channels, scaling, noise, peaks, first
// fit, validation, refinement. Plain structs in and out; no exceptions, no shared state.
#ifndef PHS_FIT_DECOMPOSE_H_
#define PHS_FIT_DECOMPOSE_H_

#include <vector>

#include "gaussian.h"
#include "refine.h"

namespace phs {

enum class DecomposeStatus { kOk = 0, kBlank = 1, kTimeout = 2 };

struct DecomposeOptions {
  FitBudget budget;
  // Spectra with fewer non-blank channels than this are not fitted (status ok, no
  // components, rms still estimated).
  int min_channels = 10;
  // The most peaks one solve takes; more are fitted in batches by persistence, each
  // against the residual of the previous, then jointly.
  int batch_components = 16;
  // The most components kept at all (the least persistent peaks beyond are ignored).
  int max_components = 64;
  // Peaks whose initial guess already fails validation are not fitted (beyond the
  // reference: in noisy spectra persistence keeps many noise peaks that validation would
  // drop after an expensive joint fit; faint real lines come back through refinement).
  bool prefilter_guesses = true;
  // The noise used inside (peaks, validation, AICc) is at least this fraction of the largest
  // |value| (about a float's rounding); the reported rms is the estimate itself.
  double relative_noise_floor = 1e-7;
  RefineOptions refine;
  // Deadline for this spectrum (default: none).
  Deadline deadline;
};

// 1-sigma errors of one component's parameters (data units, channels, channels); NaN when
// undetermined (see parameter_errors).
struct ComponentError {
  double amplitude = NAN;
  double mean = NAN;
  double stddev = NAN;
};

struct Decomposition {
  DecomposeStatus status = DecomposeStatus::kOk;
  double rms = 0.0;              // NaN when blank
  double min_persistence = 0.0;  // beta * rms; NaN when blank
  std::vector<Component> components;  // sorted by mean; empty unless status ok
  int evaluations = 0;           // model evaluations over all fits
  int blank_channels = 0;        // non-finite input channels (NaN, +-Inf)
  // Fit quality of `components` (also of none, for a spectrum not fitted); NaN when blank,
  // timed out, or undefined. N = finite channels, k = 3 x components, sigma = the noise used
  // in the fit (rms, at least relative_noise_floor x the largest |value|).
  double residual_rms = NAN;     // sqrt(RSS / N), data units
  double chi2_reduced = NAN;     // RSS / sigma^2 / (N - k); NaN when N <= k or sigma = 0
  double aicc = NAN;             // the refinement's AICc in data units; NaN when N <= k + 1 or RSS = 0
  std::vector<ComponentError> errors;  // one per component, same order
};

// Reusable storage for one worker thread.
struct DecomposeWorkspace {
  RefineWorkspace refine;
  std::vector<double> scaled, noise_scratch, errors;
  std::vector<Component> fitted;  // the final components in the scaled data
  std::vector<unsigned char> weight;
};

template <typename T>
void decompose(const T* spectrum, int n, const FitParams& params, const DecomposeOptions& options,
               DecomposeWorkspace& ws, Decomposition& out);

}  // namespace phs

#endif  // PHS_FIT_DECOMPOSE_H_
