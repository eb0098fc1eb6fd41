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

}  // namespace

template <typename T>
void decompose(const T* spectrum, int n, const FitParams& params, const DecomposeOptions& options,
               DecomposeWorkspace& ws, Decomposition& out) {
  out.status = DecomposeStatus::kOk;
  out.components.clear();
  out.evaluations = 0;
  out.blank_channels = 0;
  out.rms = NAN;
  out.min_persistence = NAN;

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
  if (valid == 0) {
    out.status = DecomposeStatus::kBlank;
    return;
  }
  int exponent = 0;
  if (peak > 0.0) std::frexp(peak, &exponent);
  for (int i = 0; i < n; ++i)
    ws.scaled[i] = ws.weight[i] ? std::ldexp(static_cast<double>(spectrum[i]), -exponent) : 0.0;

  // 1. Noise over the non-blank channels.
  rw.compact.resize(valid);
  for (int k = 0; k < valid; ++k) rw.compact[k] = ws.scaled[rw.position[k]];
  const NoiseEstimate noise = estimate_noise(rw.compact.data(), valid, ws.noise_scratch);
  out.rms = std::ldexp(noise.rms, exponent);
  out.min_persistence = std::ldexp(params.beta * noise.rms, exponent);
  // Inside, the noise is at least a float's rounding of the peak: noise-free data then fit
  // as their lines, not as lines plus components fitted to rounding error.
  const double noise_floor = options.relative_noise_floor * std::ldexp(peak, -exponent);
  const double rms = std::max(noise.rms, noise_floor);
  if (peak == 0.0 || valid < options.min_channels) return;

  // 2. Peaks over the non-blank channels (rw.compact still holds them).
  find_peaks(rw.compact.data(), valid, params.beta * rms, rw.persistence, rw.peaks);
  if (rw.peaks.empty() && !options.refine.refine_without_peaks) return;
  std::vector<Component> comps;
  const std::size_t keep = std::min(rw.peaks.size(), static_cast<std::size_t>(options.max_components));
  comps.reserve(keep);
  for (std::size_t k = 0; k < keep; ++k) {
    Component c = initial_guess(rw.peaks[k], rw.position.data());
    c.amplitude = std::max(c.amplitude, 1e-10);
    if (options.prefilter_guesses && !passes_validation(c, rms, n, params)) continue;
    comps.push_back(c);
  }

  RefineContext ctx;
  ctx.problem.y = ws.scaled.data();
  ctx.problem.weight = out.blank_channels > 0 ? ws.weight.data() : nullptr;
  ctx.problem.n = n;
  ctx.valid_channels = valid;
  ctx.rms = rms;
  ctx.rss_floor = static_cast<double>(valid) * noise_floor * noise_floor;
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
  for (Component& c : comps) {
    c.amplitude = std::ldexp(c.amplitude, exponent);
    if (!std::isfinite(c.amplitude) || !std::isfinite(c.mean) || !std::isfinite(c.stddev)) continue;
    out.components.push_back(c);
  }
  sort_by_mean(out.components);
}

template void decompose<float>(const float*, int, const FitParams&, const DecomposeOptions&,
                               DecomposeWorkspace&, Decomposition&);
template void decompose<double>(const double*, int, const FitParams&, const DecomposeOptions&,
                                DecomposeWorkspace&, Decomposition&);

}  // namespace phs
