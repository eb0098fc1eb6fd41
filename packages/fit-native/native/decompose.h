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

// decompose() in its stages, for callers that share the beta-independent ones between
// parameter sets (multi.h): prepare_spectrum, then find_peaks over ws.refine.compact at
// beta x rms, initial_components, and fit_components (or assess_unfitted).
struct PreparedSpectrum {
  enum class Stage {
    kBlank,     // no finite channel: out is final (min_persistence NaN)
    kUnfitted,  // all zero or too few channels: out is final but for min_persistence
    kPeaks,     // ws.refine.compact holds the finite channels, ready for find_peaks
  };
  Stage stage = Stage::kBlank;
  int valid = 0;           // finite channels
  int exponent = 0;        // the data are scaled by 2^-exponent
  double noise_rms = 0.0;  // the noise estimate, scaled
  double rms = 0.0;        // the noise used inside (at least the floor), scaled
  double rss_floor = 0.0;
  FitProblem problem;      // over ws.scaled and ws.weight
};

// Blank channels, the scale and the noise (steps 0 and 1); resets out and fills its rms and
// blank channels (and its fit quality unless stage is kPeaks).
template <typename T>
void prepare_spectrum(const T* spectrum, int n, const DecomposeOptions& options, DecomposeWorkspace& ws,
                      PreparedSpectrum& prep, Decomposition& out);

// Decomposition::min_persistence for these parameters.
double min_persistence(const PreparedSpectrum& prep, const FitParams& params);

// The first fit's starting components from the peaks above beta x rms (most persistent
// first). False when there is nothing to fit at all (no peak and no refinement without one).
bool initial_components(const PreparedSpectrum& prep, const std::vector<Peak>& peaks,
                        const FitParams& params, const DecomposeOptions& options,
                        const DecomposeWorkspace& ws, std::vector<Component>& comps);

// Steps 3 to 5 from comps (consumed), and the fit quality, into out.
void fit_components(const PreparedSpectrum& prep, const FitParams& params, const DecomposeOptions& options,
                    std::vector<Component>& comps, DecomposeWorkspace& ws, Decomposition& out);

// The fit quality of no components, into out.
void assess_unfitted(const PreparedSpectrum& prep, DecomposeWorkspace& ws, Decomposition& out);

}  // namespace phs

#endif  // PHS_FIT_DECOMPOSE_H_
