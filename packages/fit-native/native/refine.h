// Steps 4 and 5: validation of fitted components and AICc-gated refinement.
#ifndef PHS_FIT_REFINE_H_
#define PHS_FIT_REFINE_H_

#include <vector>

#include "gaussian.h"
#include "lm.h"
#include "persistence.h"

namespace phs {

// The algorithm's parameters (docs/algorithm.md, "Parameters"); defaults are the published ones.
struct FitParams {
  double beta = 3.5;          // persistence threshold in units of rms
  double snr_min = 1.5;       // minimum amplitude / rms
  double mf_snr_min = 5.0;    // minimum matched-filter SNR (A / rms) sqrt(stddev) pi^(1/4)
  double f_sep = 1.2;         // blended when |mu_i - mu_j| < f_sep min(FWHM_i, FWHM_j)
  double neg_thresh = 5.0;    // a residual dip below -neg_thresh rms triggers a split
  int max_refine_iter = 3;    // refinement iterations at most
};

// Evaluation caps of the solver: the first fit, and every later refit.
struct FitBudget {
  int first_fit_evaluations = 10000;
  int refit_evaluations = 5000;
};

// How refinement goes beyond the reference (docs/algorithm.md, "Beyond the reference").
struct RefineOptions {
  // Try replacing each component by two (a blend persistence cannot see). Each component
  // gets three seeds, each fitted against the data less the other components over
  // mean +- split_window_sigmas sigma: a symmetric split (mean -+ split_offset sigma,
  // split_width sigma, split_amplitude A each) and, when split_shoulders, a main line with a
  // shoulder on either side (main: shoulder_main_amplitude A at mean -+ shoulder_main_offset
  // sigma, shoulder_main_width sigma; shoulder: shoulder_amplitude A at mean +- shoulder_offset
  // sigma, shoulder_width sigma). The seed with the best estimated AICc is refitted jointly
  // with everything else; components are tried best estimate first, and the first split kept
  // ends the step.
  bool split_components = true;
  double split_offset = 0.6;
  double split_width = 0.6;
  double split_amplitude = 0.6;
  bool split_shoulders = true;
  double shoulder_main_offset = 0.3;
  double shoulder_main_width = 0.8;
  double shoulder_main_amplitude = 0.9;
  double shoulder_offset = 1.2;
  double shoulder_width = 0.6;
  double shoulder_amplitude = 0.4;
  double split_window_sigmas = 5.0;
  int split_local_evaluations = 200;
  // A split is kept only when AICc drops by more than this (a split of a single line
  // always fits some noise; 6 keeps spurious splits rare) ...
  double split_aicc_margin = 6.0;
  // ... or by more than this when the two lines it leaves are not resolved from each other:
  // |mean1 - mean2| < split_resolved_separation max(sigma1, sigma2), or a width ratio below
  // split_resolved_width_ratio (a narrow line on a broad one). Such pairs are how noise and
  // line-shape mismatch are most often "explained" by an extra component, so they need twice
  // the evidence.
  double unresolved_split_aicc_margin = 12.0;
  double split_resolved_separation = 1.0;
  double split_resolved_width_ratio = 0.4;
  // A split is refitted jointly only when its local estimate of AICc comes within this of
  // passing (the joint refit, where the neighbours adjust too, can do better than the
  // estimate; 10 loses nothing measurable on the benchmark and saves most refits).
  double split_screen_slack = 10.0;
  // Seed a component at the residual's strongest matched-filter response when its
  // matched-filter SNR reaches mf_snr_min (finds faint and shoulder lines that
  // persistence on the raw residual misses).
  bool matched_filter_seeding = true;
  // Matched-filter seeds tried per refinement iteration at most (each kept one allows the next).
  int matched_filter_max_seeds = 8;
  // Refine even when the first pass found no peak (a faint line may still be found).
  bool refine_without_peaks = true;
};

// Reusable storage for validation and refinement (one per worker thread).
struct RefineWorkspace {
  LmWorkspace lm;
  PersistenceWorkspace persistence;
  std::vector<Peak> peaks;
  std::vector<double> residual;  // residual of the accepted components
  std::vector<double> trial;     // residual of the latest refit
  std::vector<double> compact;   // non-blank samples of a spectrum or residual
  std::vector<Component> candidate, found;
  std::vector<int> position;     // channel of each non-blank sample, in order
  std::vector<double> local;     // a component's window of the data less the other components
  std::vector<Component> pair;   // a split fitted over that window
  struct SplitProposal {
    double estimate;  // estimated AICc of the split plus its margin
    int index;        // the component split
    Component low, high;
  };
  std::vector<SplitProposal> proposals;
};

// Everything a refit needs: the data, the noise, the parameters, and the running totals.
struct RefineContext {
  FitProblem problem;      // the (scaled) spectrum with blank channels at weight 0
  int valid_channels = 0;  // N of the AICc: channels with weight 1
  double rms = 0.0;
  // Added to every RSS before its AICc: N floor^2 for the noise floor (DecomposeOptions), so
  // that AICc does not compare rounding errors of noise-free data.
  double rss_floor = 0.0;
  FitParams params;
  FitBudget budget;
  LmOptions lm;            // tolerances and deadline; max_evaluations is set per fit
  int evaluations = 0;     // model evaluations so far (all fits)
  bool timed_out = false;  // set once the deadline stopped a fit
  RefineOptions options;
};

// True when the component survives validation (docs/algorithm.md, step 4).
bool passes_validation(const Component& c, double rms, int n_channels, const FitParams& params);

// AICc = N ln(RSS / N) + 2k + (2k^2 + 2k) / (N - k - 1), k = 3 components; +inf for N <= k + 1.
double aicc(double rss, int n, int components);

// The first blended pair (i < j in list order), or false when none.
bool first_blended_pair(const std::vector<Component>& comps, double f_sep, int& i, int& j);

// Fits `comps` with the given evaluation cap and returns the residual sum of squares
// (the residual itself is left in ws.trial).
double refit(RefineContext& ctx, RefineWorkspace& ws, std::vector<Component>& comps,
             int max_evaluations);

// Step 4: drops the components that fail validation; refits the rest when any was dropped.
// Returns the RSS of the result; ws.residual holds its residual on return.
double validate(RefineContext& ctx, RefineWorkspace& ws, std::vector<Component>& comps,
                double rss);

// Step 5 (plus splits and matched-filter seeding): improves comps while AICc drops. Every
// candidate is refitted and validated (failing components dropped and the rest refitted)
// before its AICc is compared. `rss` is the RSS of comps and ws.residual its residual.
void refine(RefineContext& ctx, RefineWorkspace& ws, std::vector<Component>& comps, double rss);

}  // namespace phs

#endif  // PHS_FIT_REFINE_H_
