// Driver: blank channels get weight 0 and leave the noise and peak searches; the spectrum is
// scaled by a power of two (exact) so that huge or denormal data fit like ordinary data.
#include "decompose.h"

#include <algorithm>
#include <cmath>

#include "noise.h"
#include "persistence.h"

namespace phs {
namespace {

void sort_by_mean(std::vector<Component>& comps) {
  std::stable_sort(comps.begin(), comps.end(),
                   [](const Component& a, const Component& b) { return a.mean < b.mean; });
}

// First fit (step 3): all peaks in one solve, or in batches by persistence against the
// running residual followed by a joint solve.
double first_fit(RefineContext& ctx, RefineWorkspace& ws, std::vector<Component>& comps,
                 int batch) {
  const int total = static_cast<int>(comps.size());
  if (total <= batch) return refit(ctx, ws, comps, ctx.budget.first_fit_evaluations);
  std::vector<Component> fitted;
  std::vector<double> target(ctx.problem.n);
  const FitProblem whole = ctx.problem;
  for (int start = 0; start < total && !ctx.timed_out; start += batch) {
    std::vector<Component> part(comps.begin() + start,
                                comps.begin() + std::min(total, start + batch));
    residual_of(whole, fitted, ctx.lm.window_sigmas, target.data());
    ctx.problem.y = target.data();
    refit(ctx, ws, part, ctx.budget.first_fit_evaluations);
    ctx.problem = whole;
    fitted.insert(fitted.end(), part.begin(), part.end());
  }
  comps = fitted;
  return refit(ctx, ws, comps, ctx.budget.first_fit_evaluations);
}

// Fit quality of `comps` (scaled data; amplitudes and RSS scale by 2^exponent): residual rms,
// reduced chi^2 and AICc against the noise used in the fit, and the parameter errors, all from
// one evaluation of the model and its Jacobian at `comps`.
void assess(const FitProblem& pb, const std::vector<Component>& comps, int valid, double noise,
            double rss_floor, int exponent, DecomposeWorkspace& ws, Decomposition& out) {
  const double rss = parameter_errors(pb, comps, noise, LmOptions().window_sigmas, ws.refine.lm, ws.errors);
  const int k = 3 * static_cast<int>(comps.size());
  out.residual_rms = std::ldexp(std::sqrt(rss / valid), exponent);
  out.chi2_reduced = valid > k && noise > 0.0 ? rss / (noise * noise) / (valid - k) : NAN;
  // The refinement's AICc is of the scaled data: N ln(RSS / N) moves by 2 N exponent ln 2.
  const double a = aicc(rss + rss_floor, valid, static_cast<int>(comps.size()));
  out.aicc = std::isfinite(a) && rss + rss_floor > 0.0
                 ? a + 2.0 * valid * exponent * 0.69314718055994531
                 : NAN;
  out.errors.resize(comps.size());
  for (std::size_t c = 0; c < comps.size(); ++c)
    out.errors[c] = ComponentError{std::ldexp(ws.errors[3 * c], exponent), ws.errors[3 * c + 1],
                                   ws.errors[3 * c + 2]};
}

}  // namespace

template <typename T>
void prepare_spectrum(const T* spectrum, int n, const DecomposeOptions& options, DecomposeWorkspace& ws,
                      PreparedSpectrum& prep, Decomposition& out) {
  out.status = DecomposeStatus::kOk;
  out.components.clear();
  out.evaluations = 0;
  out.blank_channels = 0;
  out.rms = NAN;
  out.min_persistence = NAN;
  out.residual_rms = NAN;
  out.chi2_reduced = NAN;
  out.aicc = NAN;
  out.errors.clear();
  prep = PreparedSpectrum();

  // Blank channels and the power-of-two scale (the largest |f| lands in [0.5, 1)).
  ws.scaled.resize(n);
  ws.weight.resize(n);
  RefineWorkspace& rw = ws.refine;
  rw.position.clear();
  double peak = 0.0;
  for (int i = 0; i < n; ++i) {
    const double v = static_cast<double>(spectrum[i]);
    const bool ok = std::isfinite(v);
    ws.weight[i] = ok ? 1 : 0;
    if (ok) {
      rw.position.push_back(i);
      peak = std::max(peak, std::fabs(v));
    } else {
      ++out.blank_channels;
    }
  }
  const int valid = static_cast<int>(rw.position.size());
  prep.valid = valid;
  if (valid == 0) {
    out.status = DecomposeStatus::kBlank;
    prep.stage = PreparedSpectrum::Stage::kBlank;
    return;
  }
  int exponent = 0;
  if (peak > 0.0) std::frexp(peak, &exponent);
  prep.exponent = exponent;
  for (int i = 0; i < n; ++i)
    ws.scaled[i] = ws.weight[i] ? std::ldexp(static_cast<double>(spectrum[i]), -exponent) : 0.0;

  // 1. Noise over the non-blank channels.
  rw.compact.resize(valid);
  for (int k = 0; k < valid; ++k) rw.compact[k] = ws.scaled[rw.position[k]];
  const NoiseEstimate noise = estimate_noise(rw.compact.data(), valid, ws.noise_scratch);
  prep.noise_rms = noise.rms;
  out.rms = std::ldexp(noise.rms, exponent);
  // Inside, the noise is at least a float's rounding of the peak: noise-free data then fit
  // as their lines, not as lines plus components fitted to rounding error.
  const double noise_floor = options.relative_noise_floor * std::ldexp(peak, -exponent);
  prep.rms = std::max(noise.rms, noise_floor);
  prep.problem.y = ws.scaled.data();
  prep.problem.weight = out.blank_channels > 0 ? ws.weight.data() : nullptr;
  prep.problem.n = n;
  prep.rss_floor = static_cast<double>(valid) * noise_floor * noise_floor;
  if (peak == 0.0 || valid < options.min_channels) {
    prep.stage = PreparedSpectrum::Stage::kUnfitted;
    ws.fitted.clear();
    assess(prep.problem, ws.fitted, valid, prep.rms, prep.rss_floor, exponent, ws, out);
    return;
  }
  prep.stage = PreparedSpectrum::Stage::kPeaks;
}

double min_persistence(const PreparedSpectrum& prep, const FitParams& params) {
  return prep.stage == PreparedSpectrum::Stage::kBlank ? NAN
                                                       : std::ldexp(params.beta * prep.noise_rms, prep.exponent);
}

bool initial_components(const PreparedSpectrum& prep, const std::vector<Peak>& peaks,
                        const FitParams& params, const DecomposeOptions& options,
                        const DecomposeWorkspace& ws, std::vector<Component>& comps) {
  comps.clear();
  if (peaks.empty() && !options.refine.refine_without_peaks) return false;
  const std::size_t keep = std::min(peaks.size(), static_cast<std::size_t>(options.max_components));
  comps.reserve(keep);
  for (std::size_t k = 0; k < keep; ++k) {
    Component c = initial_guess(peaks[k], ws.refine.position.data());
    c.amplitude = std::max(c.amplitude, 1e-10);
    if (options.prefilter_guesses && !passes_validation(c, prep.rms, prep.problem.n, params)) continue;
    comps.push_back(c);
  }
  return true;
}

void assess_unfitted(const PreparedSpectrum& prep, DecomposeWorkspace& ws, Decomposition& out) {
  ws.fitted.clear();
  assess(prep.problem, ws.fitted, prep.valid, prep.rms, prep.rss_floor, prep.exponent, ws, out);
}

void fit_components(const PreparedSpectrum& prep, const FitParams& params, const DecomposeOptions& options,
                    std::vector<Component>& comps, DecomposeWorkspace& ws, Decomposition& out) {
  RefineWorkspace& rw = ws.refine;
  const int n = prep.problem.n;
  ws.fitted.clear();
  RefineContext ctx;
  ctx.problem = prep.problem;
  ctx.valid_channels = prep.valid;
  ctx.rms = prep.rms;
  ctx.rss_floor = prep.rss_floor;
  ctx.params = params;
  ctx.budget = options.budget;
  ctx.lm.deadline = options.deadline;
  ctx.options = options.refine;

  // 3. First fit; 4. validation; 5. refinement.
  double rss = 0.0;
  if (comps.empty()) {
    rw.residual.resize(n);
    rss = residual_of(ctx.problem, comps, ctx.lm.window_sigmas, rw.residual.data());
  } else {
    rss = first_fit(ctx, rw, comps, std::max(1, options.batch_components));
    rw.residual.swap(rw.trial);
    if (!ctx.timed_out) rss = validate(ctx, rw, comps, rss);
  }
  if (!ctx.timed_out && (options.refine.refine_without_peaks || !comps.empty()))
    refine(ctx, rw, comps, rss);

  out.evaluations = ctx.evaluations;
  if (ctx.timed_out || options.deadline.expired()) {
    out.status = DecomposeStatus::kTimeout;
    return;
  }
  for (const Component& c : comps) {
    Component u = c;
    u.amplitude = std::ldexp(c.amplitude, prep.exponent);
    if (!std::isfinite(u.amplitude) || !std::isfinite(u.mean) || !std::isfinite(u.stddev)) continue;
    out.components.push_back(u);
    ws.fitted.push_back(c);
  }
  // Equal keys in equal order: both lists get the same permutation.
  sort_by_mean(out.components);
  sort_by_mean(ws.fitted);
  assess(prep.problem, ws.fitted, prep.valid, prep.rms, prep.rss_floor, prep.exponent, ws, out);
}

template <typename T>
void decompose(const T* spectrum, int n, const FitParams& params, const DecomposeOptions& options,
               DecomposeWorkspace& ws, Decomposition& out) {
  PreparedSpectrum prep;
  prepare_spectrum(spectrum, n, options, ws, prep, out);
  out.min_persistence = min_persistence(prep, params);
  if (prep.stage != PreparedSpectrum::Stage::kPeaks) return;
  // 2. Peaks over the non-blank channels (ws.refine.compact holds them).
  RefineWorkspace& rw = ws.refine;
  find_peaks(rw.compact.data(), prep.valid, params.beta * prep.rms, rw.persistence, rw.peaks);
  std::vector<Component> comps;
  if (!initial_components(prep, rw.peaks, params, options, ws, comps)) return assess_unfitted(prep, ws, out);
  fit_components(prep, params, options, comps, ws, out);
}

template void decompose<float>(const float*, int, const FitParams&, const DecomposeOptions&,
                               DecomposeWorkspace&, Decomposition&);
template void decompose<double>(const double*, int, const FitParams&, const DecomposeOptions&,
                                DecomposeWorkspace&, Decomposition&);
template void prepare_spectrum<float>(const float*, int, const DecomposeOptions&, DecomposeWorkspace&,
                                      PreparedSpectrum&, Decomposition&);

}  // namespace phs
