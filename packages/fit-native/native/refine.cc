// Validation and AICc-gated refinement: residual peaks, dip splits, blended merges (the
// reference), then component splits and matched-filter seeding (beyond it). Every change is
// refitted and validated, and kept only when AICc drops.
#include "refine.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace phs {
namespace {

constexpr double kPiQuarter = 1.3313353638003897;  // pi^(1/4)
constexpr std::size_t kMaxComponents = 64;

// Residual peaks that would pass validation, seeded like the first fit's peaks.
void residual_peaks(const RefineContext& ctx, RefineWorkspace& ws,
                    std::vector<Component>& out) {
  out.clear();
  const int m = ctx.valid_channels;
  ws.compact.resize(m);
  for (int k = 0; k < m; ++k) ws.compact[k] = ws.residual[ws.position[k]];
  find_peaks(ws.compact.data(), m, ctx.params.snr_min * ctx.rms, ws.persistence, ws.peaks);
  for (const Peak& p : ws.peaks) {
    const Component c = initial_guess(p, ws.position.data());
    if (passes_validation(c, ctx.rms, ctx.problem.n, ctx.params)) out.push_back(c);
  }
}

// Tries `candidate`: refits and validates it and, when AICc drops by more than `margin`,
// makes it current.
bool try_candidate(RefineContext& ctx, RefineWorkspace& ws, std::vector<Component>& comps,
                   std::vector<Component>& candidate, double& rss, double& current_aicc,
                   double margin = 0.0) {
  if (candidate.size() > kMaxComponents) candidate.resize(kMaxComponents);
  double r = refit(ctx, ws, candidate, ctx.budget.refit_evaluations);
  if (ctx.timed_out) return false;
  // Drop what fails validation (refitting the rest) before comparing.
  const std::size_t before = candidate.size();
  candidate.erase(std::remove_if(candidate.begin(), candidate.end(),
                                 [&](const Component& c) {
                                   return !passes_validation(c, ctx.rms, ctx.problem.n,
                                                             ctx.params);
                                 }),
                  candidate.end());
  if (candidate.empty()) return false;
  if (candidate.size() != before) {
    r = refit(ctx, ws, candidate, ctx.budget.refit_evaluations);
    if (ctx.timed_out) return false;
  }
  const double a = aicc(r, ctx.valid_channels, static_cast<int>(candidate.size()));
  if (!(a < current_aicc - margin)) return false;
  comps.swap(candidate);
  ws.residual.swap(ws.trial);
  rss = r;
  current_aicc = a;
  return true;
}

// The valid channel with the lowest residual, or -1.
int deepest_channel(const RefineContext& ctx, const RefineWorkspace& ws) {
  int best = -1;
  for (int k = 0; k < ctx.valid_channels; ++k) {
    const int i = ws.position[k];
    if (best < 0 || ws.residual[i] < ws.residual[best]) best = i;
  }
  return best;
}

// The strongest matched-filter response of the residual over a grid of widths: the
// least-squares amplitude A = (r . g) / (g . g) at each channel and width, scored by the
// matched-filter SNR (r . g) / (rms |g|) (which equals (A / rms) sqrt(sigma) pi^(1/4) for an
// unbounded Gaussian). Returns false when no response reaches min_snr.
bool matched_filter_peak(const RefineContext& ctx, const RefineWorkspace& ws, double min_snr,
                         Component& out) {
  static constexpr double kWidths[] = {1.0, 1.5, 2.0, 3.0, 4.5, 6.5, 9.0, 13.0, 18.0};
  constexpr int kMaxHalf = 72;  // 4 x the widest
  const int n = ctx.problem.n;
  const unsigned char* w = ctx.problem.weight;
  const double* r = ws.residual.data();
  double best = min_snr;
  bool found = false;
  for (double s : kWidths) {
    const int half = std::min(kMaxHalf, static_cast<int>(std::ceil(4.0 * s)));
    const double inv = 0.5 / (s * s);
    double kernel[kMaxHalf + 1];
    for (int d = 0; d <= half; ++d) kernel[d] = std::exp(-d * d * inv);
    for (int i = 0; i < n; ++i) {
      if (w && !w[i]) continue;
      double rg = 0.0, gg = 0.0;
      const int lo = std::max(0, i - half), hi = std::min(n - 1, i + half);
      for (int j = lo; j <= hi; ++j) {
        if (w && !w[j]) continue;
        const double g = kernel[j > i ? j - i : i - j];
        rg += r[j] * g;
        gg += g * g;
      }
      if (!(rg > 0.0) || !(gg > 0.0)) continue;
      const double snr = rg / (ctx.rms * std::sqrt(gg));
      if (snr > best) {
        best = snr;
        found = true;
        out = Component{rg / gg, static_cast<double>(i), s};
      }
    }
  }
  return found;
}

}  // namespace

bool passes_validation(const Component& c, double rms, int n_channels, const FitParams& params) {
  if (!(c.amplitude >= 0.0) || !std::isfinite(c.mean) || !(c.stddev > 0.0)) return false;
  if (kFwhmPerSigma * c.stddev < 1.0) return false;
  if (c.mean < 0.0 || c.mean >= n_channels) return false;
  if (c.amplitude < params.snr_min * rms) return false;
  if (rms > 0.0 && (c.amplitude / rms) * std::sqrt(c.stddev) * kPiQuarter < params.mf_snr_min)
    return false;
  return true;
}

double aicc(double rss, int n, int components) {
  const double k = 3.0 * components;
  if (n <= k + 1.0) return std::numeric_limits<double>::infinity();
  const double r = rss > 0.0 ? rss : 1e-300;
  return n * std::log(r / n) + 2.0 * k + (2.0 * k * k + 2.0 * k) / (n - k - 1.0);
}

bool first_blended_pair(const std::vector<Component>& comps, double f_sep, int& i, int& j) {
  const int k = static_cast<int>(comps.size());
  for (int a = 0; a < k; ++a) {
    for (int b = a + 1; b < k; ++b) {
      const double fwhm = kFwhmPerSigma * std::min(comps[a].stddev, comps[b].stddev);
      if (std::fabs(comps[a].mean - comps[b].mean) < f_sep * fwhm) {
        i = a;
        j = b;
        return true;
      }
    }
  }
  return false;
}

double refit(RefineContext& ctx, RefineWorkspace& ws, std::vector<Component>& comps,
             int max_evaluations) {
  LmOptions opt = ctx.lm;
  opt.max_evaluations = max_evaluations;
  const LmSummary s = fit_lm(ctx.problem, comps, opt, ws.lm);
  ctx.evaluations += s.evaluations;
  if (s.status == LmStatus::kDeadline) ctx.timed_out = true;
  ws.trial.resize(ctx.problem.n);
  return residual_of(ctx.problem, comps, opt.window_sigmas, ws.trial.data());
}

double validate(RefineContext& ctx, RefineWorkspace& ws, std::vector<Component>& comps,
                double rss) {
  const std::size_t before = comps.size();
  comps.erase(std::remove_if(comps.begin(), comps.end(),
                             [&](const Component& c) {
                               return !passes_validation(c, ctx.rms, ctx.problem.n, ctx.params);
                             }),
              comps.end());
  if (comps.size() == before) return rss;
  if (comps.empty()) {
    ws.residual.resize(ctx.problem.n);
    return residual_of(ctx.problem, comps, ctx.lm.window_sigmas, ws.residual.data());
  }
  const double r = refit(ctx, ws, comps, ctx.budget.refit_evaluations);
  ws.residual.swap(ws.trial);
  return r;
}

void refine(RefineContext& ctx, RefineWorkspace& ws, std::vector<Component>& comps, double rss) {
  const FitParams& prm = ctx.params;
  const RefineOptions& opt = ctx.options;
  int bi = 0, bj = 0;
  // The reference's early exit; splits and matched-filter seeding always get their chance.
  residual_peaks(ctx, ws, ws.found);
  if (!opt.split_components && !opt.matched_filter_seeding && ws.found.empty() &&
      !first_blended_pair(comps, prm.f_sep, bi, bj))
    return;

  double current = aicc(rss, ctx.valid_channels, static_cast<int>(comps.size()));
  for (int iter = 0; iter < prm.max_refine_iter && !ctx.timed_out; ++iter) {
    bool changed = false;

    // 1. The residual's validated peaks as new components.
    residual_peaks(ctx, ws, ws.found);
    if (!ws.found.empty()) {
      ws.candidate = comps;
      ws.candidate.insert(ws.candidate.end(), ws.found.begin(), ws.found.end());
      changed |= try_candidate(ctx, ws, comps, ws.candidate, rss, current);
      if (ctx.timed_out) return;
    }

    // 2. A deep residual dip splits the broadest component within 3 sigma of it.
    const int dip = deepest_channel(ctx, ws);
    if (dip >= 0 && ws.residual[dip] < -prm.neg_thresh * ctx.rms) {
      int best = -1;
      for (int c = 0; c < static_cast<int>(comps.size()); ++c) {
        if (std::fabs(comps[c].mean - dip) < 3.0 * comps[c].stddev &&
            (best < 0 || comps[c].stddev > comps[best].stddev))
          best = c;
      }
      if (best >= 0) {
        const Component c = comps[best];
        ws.candidate = comps;
        const double off = 0.5 * c.stddev;
        ws.candidate[best] = Component{0.7 * c.amplitude, c.mean - off, 0.5 * c.stddev};
        ws.candidate.push_back(Component{0.7 * c.amplitude, c.mean + off, 0.5 * c.stddev});
        changed |= try_candidate(ctx, ws, comps, ws.candidate, rss, current);
        if (ctx.timed_out) return;
      }
    }

    // 3. The first blended pair merges into one.
    if (first_blended_pair(comps, prm.f_sep, bi, bj)) {
      const Component a = comps[bi], b = comps[bj];
      double wa = a.amplitude * a.stddev, wb = b.amplitude * b.stddev;
      double wt = wa + wb;
      if (wt == 0.0) {
        wa = wb = 0.5;
        wt = 1.0;
      }
      ws.candidate.clear();
      for (int c = 0; c < static_cast<int>(comps.size()); ++c)
        if (c != bi && c != bj) ws.candidate.push_back(comps[c]);
      ws.candidate.push_back(Component{a.amplitude + b.amplitude,
                                       (a.mean * wa + b.mean * wb) / wt,
                                       (a.stddev * wa + b.stddev * wb) / wt});
      changed |= try_candidate(ctx, ws, comps, ws.candidate, rss, current);
      if (ctx.timed_out) return;
    }

    // 4. Beyond the reference: split a component in two (the first split kept ends the step).
    if (opt.split_components) {
      for (std::size_t c = 0; c < comps.size(); ++c) {
        const Component b = comps[c];
        const double off = opt.split_offset * b.stddev;
        const Component half{opt.split_amplitude * b.amplitude, b.mean - off,
                             opt.split_width * b.stddev};
        ws.candidate = comps;
        ws.candidate[c] = half;
        ws.candidate.push_back(Component{half.amplitude, b.mean + off, half.stddev});
        if (try_candidate(ctx, ws, comps, ws.candidate, rss, current, opt.split_aicc_margin)) {
          changed = true;
          break;
        }
        if (ctx.timed_out) return;
      }
    }

    // 5. Beyond the reference: the residual's strongest matched-filter response, repeated
    //    while it is kept (one line at a time, each against the new residual).
    Component seed;
    for (int added = 0; opt.matched_filter_seeding && ctx.rms > 0.0 &&
                        added < opt.matched_filter_max_seeds &&
                        matched_filter_peak(ctx, ws, prm.mf_snr_min, seed);
         ++added) {
      ws.candidate = comps;
      ws.candidate.push_back(seed);
      const bool kept = try_candidate(ctx, ws, comps, ws.candidate, rss, current);
      if (ctx.timed_out) return;
      if (!kept) break;
      changed = true;
    }

    if (!changed) break;
  }
}

}  // namespace phs
