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

// Refits and validates `candidate` (components that fail validation are dropped and the rest
// refitted). Returns its AICc (+inf when nothing is left or time ran out), its RSS in `r`;
// its residual is left in ws.trial.
double fit_candidate(RefineContext& ctx, RefineWorkspace& ws, std::vector<Component>& candidate,
                     double& r) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (candidate.size() > kMaxComponents) candidate.resize(kMaxComponents);
  r = refit(ctx, ws, candidate, ctx.budget.refit_evaluations);
  if (ctx.timed_out) return kInf;
  const std::size_t before = candidate.size();
  candidate.erase(std::remove_if(candidate.begin(), candidate.end(),
                                 [&](const Component& c) {
                                   return !passes_validation(c, ctx.rms, ctx.problem.n,
                                                             ctx.params);
                                 }),
                  candidate.end());
  if (candidate.empty()) return kInf;
  if (candidate.size() != before) {
    r = refit(ctx, ws, candidate, ctx.budget.refit_evaluations);
    if (ctx.timed_out) return kInf;
  }
  return aicc(r + ctx.rss_floor, ctx.valid_channels, static_cast<int>(candidate.size()));
}

// Makes a fitted candidate (its residual in ws.trial) current.
void accept(RefineWorkspace& ws, std::vector<Component>& comps, std::vector<Component>& candidate,
            double r, double a, double& rss, double& current_aicc) {
  comps.swap(candidate);
  ws.residual.swap(ws.trial);
  rss = r;
  current_aicc = a;
}

// Tries `candidate`: refits and validates it and, when AICc drops by more than `margin`,
// makes it current.
bool try_candidate(RefineContext& ctx, RefineWorkspace& ws, std::vector<Component>& comps,
                   std::vector<Component>& candidate, double& rss, double& current_aicc,
                   double margin = 0.0) {
  double r = 0.0;
  const double a = fit_candidate(ctx, ws, candidate, r);
  if (ctx.timed_out || !(a < current_aicc - margin)) return false;
  accept(ws, comps, candidate, r, a, rss, current_aicc);
  return true;
}

// The AICc margin a split into p and q must clear (RefineOptions).
double split_margin(const RefineOptions& opt, const Component& p, const Component& q) {
  const double wide = std::max(p.stddev, q.stddev);
  const double narrow = std::min(p.stddev, q.stddev);
  const bool resolved = std::fabs(p.mean - q.mean) >= opt.split_resolved_separation * wide &&
                        narrow >= opt.split_resolved_width_ratio * wide;
  return resolved ? opt.split_aicc_margin : opt.unresolved_split_aicc_margin;
}

// Seed `geometry` of a split of b: 0 symmetric, 1 / 2 a main line with a shoulder on the
// low / high side.
void split_seed(const RefineOptions& opt, const Component& b, int geometry, Component& p,
                Component& q) {
  if (geometry == 0) {
    const double off = opt.split_offset * b.stddev;
    p = Component{opt.split_amplitude * b.amplitude, b.mean - off, opt.split_width * b.stddev};
    q = Component{p.amplitude, b.mean + off, p.stddev};
    return;
  }
  const double side = geometry == 1 ? -1.0 : 1.0;
  p = Component{opt.shoulder_main_amplitude * b.amplitude,
                b.mean - side * opt.shoulder_main_offset * b.stddev,
                opt.shoulder_main_width * b.stddev};
  q = Component{opt.shoulder_amplitude * b.amplitude, b.mean + side * opt.shoulder_offset * b.stddev,
                opt.shoulder_width * b.stddev};
}

// Fits split seed `geometry` of comps[c] to the data less the other components over the
// window mean +- split_window_sigmas sigma (the accepted residual plus comps[c]). Returns the
// window's RSS after the fit (+inf for a window under 8 channels) and in `before` its RSS
// now; the fitted pair is left in p and q.
double local_split(RefineContext& ctx, RefineWorkspace& ws, const Component& b, int geometry,
                   Component& p, Component& q, double& before) {
  const int n = ctx.problem.n;
  const double w = ctx.options.split_window_sigmas;
  const double from = std::floor(b.mean - w * b.stddev);
  const double to = std::ceil(b.mean + w * b.stddev) + 1.0;
  const int lo = from <= 0.0 ? 0 : (from >= n ? n : static_cast<int>(from));
  const int hi = to <= 0.0 ? 0 : (to >= n ? n : static_cast<int>(to));
  const int m = hi - lo;
  before = 0.0;
  if (m < 8) return std::numeric_limits<double>::infinity();
  const unsigned char* weight = ctx.problem.weight;
  const double inv_s2 = 1.0 / (b.stddev * b.stddev);
  ws.local.resize(m);
  for (int i = lo; i < hi; ++i) {
    const double r = ws.residual[i];  // 0 on blank channels
    before += r * r;
    double v = r;
    if (!weight || weight[i]) {
      const double d = i - b.mean;
      v += b.amplitude * std::exp(-0.5 * d * d * inv_s2);
    }
    ws.local[i - lo] = v;
  }
  split_seed(ctx.options, b, geometry, p, q);
  FitProblem window;
  window.y = ws.local.data();
  window.weight = weight ? weight + lo : nullptr;
  window.n = m;
  ws.pair.assign({Component{p.amplitude, p.mean - lo, p.stddev},
                  Component{q.amplitude, q.mean - lo, q.stddev}});
  LmOptions opt = ctx.lm;
  opt.max_evaluations = ctx.options.split_local_evaluations;
  const LmSummary s = fit_lm(window, ws.pair, opt, ws.lm);
  ctx.evaluations += s.evaluations;
  if (s.status == LmStatus::kDeadline) ctx.timed_out = true;
  p = ws.pair[0];
  q = ws.pair[1];
  p.mean += lo;
  q.mean += lo;
  return 2.0 * s.final_cost;
}

// Step 4 of refinement (beyond the reference): the best split seed of every component by
// its local fit, then joint refits best estimate first until one clears its margin.
bool split_step(RefineContext& ctx, RefineWorkspace& ws, std::vector<Component>& comps,
                double& rss, double& current) {
  const RefineOptions& opt = ctx.options;
  const int geometries = opt.split_shoulders ? 3 : 1;
  const int k = static_cast<int>(comps.size()) + 1;
  ws.proposals.clear();
  for (int c = 0; c < static_cast<int>(comps.size()); ++c) {
    RefineWorkspace::SplitProposal best{std::numeric_limits<double>::infinity(), c, {}, {}};
    for (int g = 0; g < geometries; ++g) {
      Component p, q;
      double before = 0.0;
      const double after = local_split(ctx, ws, comps[c], g, p, q, before);
      if (ctx.timed_out) return false;
      if (!std::isfinite(after)) continue;
      const double estimated_rss = std::max(rss - before + after, 0.0) + ctx.rss_floor;
      const double estimate = aicc(estimated_rss, ctx.valid_channels, k) + split_margin(opt, p, q);
      if (estimate < best.estimate) best = RefineWorkspace::SplitProposal{estimate, c, p, q};
    }
    if (best.estimate < current + opt.split_screen_slack) ws.proposals.push_back(best);
  }
  std::stable_sort(ws.proposals.begin(), ws.proposals.end(),
                   [](const RefineWorkspace::SplitProposal& a,
                      const RefineWorkspace::SplitProposal& b) { return a.estimate < b.estimate; });
  for (const RefineWorkspace::SplitProposal& pr : ws.proposals) {
    ws.candidate = comps;
    ws.candidate[pr.index] = pr.low;
    ws.candidate.push_back(pr.high);
    double r = 0.0;
    const double a = fit_candidate(ctx, ws, ws.candidate, r);
    if (ctx.timed_out) return false;
    // The pair's margin after the joint refit (when validation dropped a component, the
    // candidate is no split and the plain margin applies).
    const double margin = ws.candidate.size() == comps.size() + 1
                              ? split_margin(opt, ws.candidate[pr.index], ws.candidate.back())
                              : opt.split_aicc_margin;
    if (a < current - margin) {
      accept(ws, comps, ws.candidate, r, a, rss, current);
      return true;
    }
  }
  return false;
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

  double current = aicc(rss + ctx.rss_floor, ctx.valid_channels, static_cast<int>(comps.size()));
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
      changed |= split_step(ctx, ws, comps, rss, current);
      if (ctx.timed_out) return;
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
