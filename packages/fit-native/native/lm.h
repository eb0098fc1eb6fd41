// Step 3: bounded Levenberg-Marquardt for a sum of Gaussians (in the manner of
// ceres' tiny_solver: plain structs in and out, options with documented defaults, and a
// summary that says why the solver stopped).
#ifndef PHS_FIT_LM_H_
#define PHS_FIT_LM_H_

#include <vector>

#include "gaussian.h"

namespace phs {

// The data: y[0..n); weight[i] is 1 for a channel that counts, 0 for a blank one
// (weight == nullptr: all count). Blank channels must still hold a finite value.
struct FitProblem {
  const double* y = nullptr;
  const unsigned char* weight = nullptr;
  int n = 0;
};

struct LmOptions {
  // Model evaluations at most (the starting point counts as one).
  int max_evaluations = 10000;
  // Stop when an accepted step lowers the cost by less than this fraction of it.
  double function_tolerance = 1e-8;
  // Stop when |step| <= parameter_tolerance (|x| + parameter_tolerance).
  double parameter_tolerance = 1e-8;
  // Stop when every free parameter's gradient cosine |J_j . e| / (|J_j| |e|) is below this.
  double gradient_tolerance = 1e-8;
  // Initial damping, relative to the Marquardt scaling diag(J^T J).
  double initial_lambda = 1e-3;
  // A component is evaluated over mean +- window_sigmas * stddev (exp(-32) beyond 8).
  double window_sigmas = 8.0;
  // Checked once per iteration; an expired deadline stops the solver.
  Deadline deadline;
};

enum class LmStatus {
  kGradientTolerance,
  kFunctionTolerance,
  kParameterTolerance,
  kMaxEvaluations,
  kDeadline,
  kNumericalFailure,  // non-finite cost or parameters: the starting point is returned
  kNoParameters,
};

struct LmSummary {
  LmStatus status = LmStatus::kNoParameters;
  int evaluations = 0;
  int iterations = 0;
  double initial_cost = 0.0;  // 0.5 sum of squared residuals at the start
  double final_cost = 0.0;
};

// Reusable storage (one per worker thread); contents unspecified between calls.
struct LmWorkspace {
  std::vector<double> x, x_new, lower, upper, step, gradient, diag, jtj, system;
  std::vector<double> model, residual, jac, jac_new, model_new, residual_new;
  std::vector<int> lo, hi, lo_new, hi_new, group, index;
  std::vector<unsigned char> free_param;
  std::vector<Component> start;
};

// Bounds for a spectrum of n channels: A >= 0, 0 <= mean <= n, kMinStddev <= stddev <= n / 2.
constexpr double kMinStddev = 0.3;

// Fits `components` (starting point, clamped into the bounds) to the problem; on return they
// hold the solution (the starting point when the solve failed numerically).
LmSummary fit_lm(const FitProblem& problem, std::vector<Component>& components,
                 const LmOptions& options, LmWorkspace& ws);

// Writes residual[i] = weight_i (y_i - model_i) and returns the residual sum of squares.
double residual_of(const FitProblem& problem, const std::vector<Component>& components,
                   double window_sigmas, double* residual);

// The 1-sigma errors of the parameters at `components` (a solution of fit_lm on `problem`):
// errors[3c + u] = noise sqrt([(J^T J)^-1]_jj) for amplitude (u = 0), mean, stddev of
// component c, with J the model's Jacobian over the channels of weight 1 (window as in the
// fit). A parameter at a bound, or one the model does not depend on, is held fixed and gets
// NaN; a group of components with overlapping windows whose J^T J is (numerically) singular
// gets NaN throughout; other groups are unaffected (J^T J is block diagonal between groups).
// Returns the residual sum of squares at `components` from the same model evaluation (as
// residual_of, with ws.residual holding the residual); NaN, and every error NaN, when a
// parameter is not finite.
double parameter_errors(const FitProblem& problem, const std::vector<Component>& components,
                        double noise, double window_sigmas, LmWorkspace& ws,
                        std::vector<double>& errors);

}  // namespace phs

#endif  // PHS_FIT_LM_H_
