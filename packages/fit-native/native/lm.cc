// Bounded Levenberg-Marquardt: analytic Jacobian over each component's window, normal
// equations solved by Cholesky, Marquardt scaling, gain-ratio damping, bounds by projection
// with parameters pinned at a bound held fixed for the step.
#include "lm.h"

#include <algorithm>
#include <cmath>

namespace phs {
namespace {

// Cholesky pivots of a correlation matrix below this (1 - R^2 of a parameter on the others)
// count as singular: the parameter is then a combination of the others to ~6 digits.
constexpr double kSingularPivot = 1e-12;

void window_of(const Component& c, int n, double w, int& lo, int& hi) {
  const double a = std::floor(c.mean - w * c.stddev);
  const double b = std::ceil(c.mean + w * c.stddev) + 1.0;
  lo = a <= 0.0 ? 0 : (a >= n ? n : static_cast<int>(a));
  hi = b <= 0.0 ? 0 : (b >= n ? n : static_cast<int>(b));
}

// Evaluates model, weighted residual and Jacobian (columns of length n, 3 per component,
// filled only inside each component's window [lo, hi)) at x; returns 0.5 |residual|^2.
double evaluate(const FitProblem& pb, const double* x, int k, double window, double* model,
                double* residual, double* jac, int* lo, int* hi) {
  const int n = pb.n;
  std::fill(model, model + n, 0.0);
  for (int c = 0; c < k; ++c) {
    const double a = x[3 * c], mu = x[3 * c + 1], s = x[3 * c + 2];
    Component comp{a, mu, s};
    window_of(comp, n, window, lo[c], hi[c]);
    const double inv_s2 = 1.0 / (s * s);
    double* ja = jac + static_cast<std::size_t>(3 * c) * n;
    double* jm = ja + n;
    double* js = jm + n;
    for (int i = lo[c]; i < hi[c]; ++i) {
      const double d = i - mu;
      const double g = std::exp(-0.5 * d * d * inv_s2);
      const double ag = a * g;
      model[i] += ag;
      ja[i] = g;
      jm[i] = ag * d * inv_s2;
      js[i] = ag * d * d * inv_s2 / s;
    }
    if (pb.weight) {
      for (int i = lo[c]; i < hi[c]; ++i)
        if (!pb.weight[i]) ja[i] = jm[i] = js[i] = 0.0;
    }
  }
  double cost = 0.0;
  for (int i = 0; i < n; ++i) {
    const double r = (pb.weight && !pb.weight[i]) ? 0.0 : pb.y[i] - model[i];
    residual[i] = r;
    cost += r * r;
  }
  return 0.5 * cost;
}

// In-place Cholesky of the p x p symmetric positive-definite matrix a (row-major, lower
// triangle used): a = L L^T with L in the lower triangle. Returns false when a pivot is not
// above min_pivot (a is not positive definite, or too close to singular).
bool cholesky_factor(double* a, int p, double min_pivot = 0.0) {
  for (int j = 0; j < p; ++j) {
    double d = a[j * p + j];
    for (int m = 0; m < j; ++m) d -= a[j * p + m] * a[j * p + m];
    if (!(d > min_pivot) || !std::isfinite(d)) return false;
    const double l = std::sqrt(d);
    a[j * p + j] = l;
    const double inv = 1.0 / l;
    for (int i = j + 1; i < p; ++i) {
      double v = a[i * p + j];
      for (int m = 0; m < j; ++m) v -= a[i * p + m] * a[j * p + m];
      a[i * p + j] = v * inv;
    }
  }
  return true;
}

// Solves a x = b into b, a factored by cholesky_factor.
void cholesky_substitute(const double* a, int p, double* b) {
  for (int i = 0; i < p; ++i) {
    double v = b[i];
    for (int m = 0; m < i; ++m) v -= a[i * p + m] * b[m];
    b[i] = v / a[i * p + i];
  }
  for (int i = p - 1; i >= 0; --i) {
    double v = b[i];
    for (int m = i + 1; m < p; ++m) v -= a[m * p + i] * b[m];
    b[i] = v / a[i * p + i];
  }
}

// Cholesky of a and solve a x = b into b. Returns false when a is not positive definite.
bool cholesky_solve(double* a, int p, double* b) {
  if (!cholesky_factor(a, p)) return false;
  cholesky_substitute(a, p, b);
  return true;
}

// Sizes ws for k components on n channels (with the trial point's buffers when `trial`) and
// loads x from `components` and the bounds (see kMinStddev). Returns false when a parameter is
// not finite (x then holds it as given).
bool load_problem(LmWorkspace& ws, const std::vector<Component>& components, int n, bool trial) {
  const int k = static_cast<int>(components.size());
  const int p = 3 * k;
  const std::size_t pp = static_cast<std::size_t>(p) * p;
  const std::size_t jn = static_cast<std::size_t>(p) * n;
  for (std::vector<double>* v : {&ws.x, &ws.lower, &ws.upper, &ws.step, &ws.gradient}) v->resize(p);
  ws.jtj.resize(pp);
  ws.system.resize(pp);
  ws.free_param.resize(p);
  ws.model.resize(n);
  ws.residual.resize(n);
  ws.jac.resize(jn);
  ws.lo.resize(k);
  ws.hi.resize(k);
  if (trial) {
    ws.x_new.resize(p);
    ws.diag.resize(p);
    ws.model_new.resize(n);
    ws.residual_new.resize(n);
    ws.jac_new.resize(jn);
    ws.lo_new.resize(k);
    ws.hi_new.resize(k);
  }
  bool finite = true;
  for (int c = 0; c < k; ++c) {
    const Component& comp = components[c];
    ws.x[3 * c] = comp.amplitude;
    ws.x[3 * c + 1] = comp.mean;
    ws.x[3 * c + 2] = comp.stddev;
    ws.lower[3 * c] = 0.0;
    ws.upper[3 * c] = HUGE_VAL;
    ws.lower[3 * c + 1] = 0.0;
    ws.upper[3 * c + 1] = n;
    ws.lower[3 * c + 2] = kMinStddev;
    ws.upper[3 * c + 2] = std::max(kMinStddev, 0.5 * n);
    finite = finite && std::isfinite(comp.amplitude) && std::isfinite(comp.mean) &&
             std::isfinite(comp.stddev);
  }
  return finite;
}

// J^T J (only blocks of overlapping windows are non-zero) and J^T residual.
void normal_equations(int n, int k, const double* jac, const double* residual, const int* lo,
                      const int* hi, double* jtj, double* gradient) {
  const int p = 3 * k;
  std::fill(jtj, jtj + static_cast<std::size_t>(p) * p, 0.0);
  for (int c = 0; c < k; ++c) {
    for (int u = 0; u < 3; ++u) {
      const double* ju = jac + static_cast<std::size_t>(3 * c + u) * n;
      double g = 0.0;
      for (int i = lo[c]; i < hi[c]; ++i) g += ju[i] * residual[i];
      gradient[3 * c + u] = g;
    }
    for (int d = 0; d <= c; ++d) {
      const int a = std::max(lo[c], lo[d]);
      const int b = std::min(hi[c], hi[d]);
      if (a >= b) continue;
      for (int u = 0; u < 3; ++u) {
        const double* ju = jac + static_cast<std::size_t>(3 * c + u) * n;
        const int vmax = (d == c) ? u : 2;
        for (int v = 0; v <= vmax; ++v) {
          const double* jv = jac + static_cast<std::size_t>(3 * d + v) * n;
          double s = 0.0;
          for (int i = a; i < b; ++i) s += ju[i] * jv[i];
          const int r = 3 * c + u, q = 3 * d + v;
          jtj[r * p + q] = s;
          jtj[q * p + r] = s;
        }
      }
    }
  }
}

}  // namespace

double residual_of(const FitProblem& pb, const std::vector<Component>& components,
                   double window_sigmas, double* residual) {
  const int n = pb.n;
  for (int i = 0; i < n; ++i) residual[i] = (pb.weight && !pb.weight[i]) ? 0.0 : pb.y[i];
  for (const Component& c : components) {
    int lo, hi;
    window_of(c, n, window_sigmas, lo, hi);
    const double inv_s2 = 1.0 / (c.stddev * c.stddev);
    for (int i = lo; i < hi; ++i) {
      if (pb.weight && !pb.weight[i]) continue;
      const double d = i - c.mean;
      residual[i] -= c.amplitude * std::exp(-0.5 * d * d * inv_s2);
    }
  }
  double rss = 0.0;
  for (int i = 0; i < n; ++i) rss += residual[i] * residual[i];
  return rss;
}

LmSummary fit_lm(const FitProblem& pb, std::vector<Component>& components,
                 const LmOptions& opt, LmWorkspace& ws) {
  LmSummary summary;
  const int k = static_cast<int>(components.size());
  const int p = 3 * k;
  const int n = pb.n;
  if (k == 0 || n == 0) {
    summary.status = LmStatus::kNoParameters;
    return summary;
  }
  load_problem(ws, components, n, true);
  for (int j = 0; j < p; ++j) {
    double v = ws.x[j];
    if (!std::isfinite(v)) v = (j % 3 == 2) ? 1.0 : (j % 3 == 1 ? 0.5 * n : 0.0);
    ws.x[j] = std::min(std::max(v, ws.lower[j]), ws.upper[j]);
  }
  ws.start.assign(components.begin(), components.end());

  double cost = evaluate(pb, ws.x.data(), k, opt.window_sigmas, ws.model.data(),
                         ws.residual.data(), ws.jac.data(), ws.lo.data(), ws.hi.data());
  summary.evaluations = 1;
  summary.initial_cost = cost;
  if (!std::isfinite(cost)) {
    summary.status = LmStatus::kNumericalFailure;
    summary.final_cost = cost;
    return summary;
  }

  double lambda = opt.initial_lambda;
  double nu = 2.0;
  std::fill(ws.diag.begin(), ws.diag.end(), 0.0);
  bool done = false;

  while (!done) {
    if (opt.deadline.expired()) {
      summary.status = LmStatus::kDeadline;
      break;
    }
    ++summary.iterations;
    normal_equations(n, k, ws.jac.data(), ws.residual.data(), ws.lo.data(), ws.hi.data(),
                     ws.jtj.data(), ws.gradient.data());

    // Marquardt scaling (never shrinks), a parameter pinned at a bound with the descent
    // direction pointing outward is held fixed, and the gradient test on the free ones.
    double max_diag = 0.0;
    for (int j = 0; j < p; ++j) max_diag = std::max(max_diag, ws.jtj[j * p + j]);
    const double diag_floor = 1e-12 * (max_diag > 0.0 ? max_diag : 1.0);
    const double enorm = std::sqrt(2.0 * cost);
    double gcos = 0.0;
    for (int j = 0; j < p; ++j) {
      ws.diag[j] = std::max({ws.diag[j], ws.jtj[j * p + j], diag_floor});
      const double g = ws.gradient[j];
      const bool pinned = (ws.x[j] <= ws.lower[j] && g < 0.0) || (ws.x[j] >= ws.upper[j] && g > 0.0);
      ws.free_param[j] = pinned ? 0 : 1;
      if (!pinned && ws.jtj[j * p + j] > 0.0 && enorm > 0.0)
        gcos = std::max(gcos, std::fabs(g) / (std::sqrt(ws.jtj[j * p + j]) * enorm));
    }
    if (enorm == 0.0 || gcos <= opt.gradient_tolerance) {
      summary.status = LmStatus::kGradientTolerance;
      break;
    }

    // Inner loop: raise the damping until a step lowers the cost.
    for (;;) {
      for (int r = 0; r < p; ++r) {
        for (int q = 0; q <= r; ++q) {
          const bool both = ws.free_param[r] && ws.free_param[q];
          ws.system[r * p + q] = both ? ws.jtj[r * p + q] : 0.0;
        }
        ws.system[r * p + r] = ws.free_param[r] ? ws.jtj[r * p + r] + lambda * ws.diag[r] : 1.0;
        ws.step[r] = ws.free_param[r] ? ws.gradient[r] : 0.0;
      }
      if (!cholesky_solve(ws.system.data(), p, ws.step.data())) {
        lambda *= nu;
        nu *= 2.0;
        if (lambda > 1e30) {
          summary.status = LmStatus::kParameterTolerance;
          done = true;
          break;
        }
        continue;
      }
      double step_norm = 0.0, x_norm = 0.0;
      for (int j = 0; j < p; ++j) {
        const double v = std::min(std::max(ws.x[j] + ws.step[j], ws.lower[j]), ws.upper[j]);
        ws.step[j] = v - ws.x[j];
        ws.x_new[j] = v;
        step_norm += ws.step[j] * ws.step[j];
        x_norm += ws.x[j] * ws.x[j];
      }
      step_norm = std::sqrt(step_norm);
      x_norm = std::sqrt(x_norm);
      if (step_norm <= opt.parameter_tolerance * (x_norm + opt.parameter_tolerance)) {
        summary.status = LmStatus::kParameterTolerance;
        done = true;
        break;
      }
      if (summary.evaluations >= opt.max_evaluations) {
        summary.status = LmStatus::kMaxEvaluations;
        done = true;
        break;
      }
      const double cost_new =
          evaluate(pb, ws.x_new.data(), k, opt.window_sigmas, ws.model_new.data(),
                   ws.residual_new.data(), ws.jac_new.data(), ws.lo_new.data(), ws.hi_new.data());
      ++summary.evaluations;

      // Predicted reduction of the linear model along the (projected) step.
      double predicted = 0.0;
      for (int r = 0; r < p; ++r) {
        double ah = 0.0;
        for (int q = 0; q < p; ++q) ah += ws.jtj[r * p + q] * ws.step[q];
        predicted += ws.step[r] * (ws.gradient[r] - 0.5 * ah);
      }
      const double actual = cost - cost_new;
      if (std::isfinite(cost_new) && actual > 0.0) {
        const double rho = predicted > 0.0 ? actual / predicted : 0.5;
        const double t = 2.0 * rho - 1.0;
        lambda *= std::max(1.0 / 3.0, 1.0 - t * t * t);
        nu = 2.0;
        const bool small = actual <= opt.function_tolerance * cost &&
                           predicted <= opt.function_tolerance * cost;
        ws.x.swap(ws.x_new);
        ws.model.swap(ws.model_new);
        ws.residual.swap(ws.residual_new);
        ws.jac.swap(ws.jac_new);
        ws.lo.swap(ws.lo_new);
        ws.hi.swap(ws.hi_new);
        cost = cost_new;
        if (small) {
          summary.status = LmStatus::kFunctionTolerance;
          done = true;
        }
        break;
      }
      lambda *= nu;
      nu *= 2.0;
      if (opt.deadline.expired()) {
        summary.status = LmStatus::kDeadline;
        done = true;
        break;
      }
    }
  }

  bool finite = std::isfinite(cost);
  for (int j = 0; j < p && finite; ++j) finite = std::isfinite(ws.x[j]);
  if (!finite) {
    components.assign(ws.start.begin(), ws.start.end());
    summary.status = LmStatus::kNumericalFailure;
    summary.final_cost = summary.initial_cost;
    return summary;
  }
  for (int c = 0; c < k; ++c) {
    components[c].amplitude = ws.x[3 * c];
    components[c].mean = ws.x[3 * c + 1];
    components[c].stddev = ws.x[3 * c + 2];
  }
  summary.final_cost = cost;
  return summary;
}

double parameter_errors(const FitProblem& pb, const std::vector<Component>& components,
                        double noise, double window_sigmas, LmWorkspace& ws,
                        std::vector<double>& errors) {
  const int k = static_cast<int>(components.size());
  const int p = 3 * k;
  const int n = pb.n;
  errors.assign(p, NAN);
  if (n == 0) return 0.0;
  if (!load_problem(ws, components, n, false)) return NAN;
  const double rss = 2.0 * evaluate(pb, ws.x.data(), k, window_sigmas, ws.model.data(),
                                    ws.residual.data(), ws.jac.data(), ws.lo.data(), ws.hi.data());
  if (k == 0) return rss;
  normal_equations(n, k, ws.jac.data(), ws.residual.data(), ws.lo.data(), ws.hi.data(),
                   ws.jtj.data(), ws.gradient.data());
  // Held fixed: a parameter at a bound (the constrained optimum has no Gaussian error there)
  // or one the model does not depend on.
  for (int j = 0; j < p; ++j) {
    const double d = ws.jtj[j * p + j];
    ws.free_param[j] = ws.x[j] > ws.lower[j] && ws.x[j] < ws.upper[j] && d > 0.0 && std::isfinite(d);
  }
  // J^T J is block diagonal over groups of components with overlapping windows: each group
  // is inverted alone, so a degenerate group leaves the others' errors defined.
  ws.group.resize(k);
  int* group = ws.group.data();
  for (int c = 0; c < k; ++c) group[c] = c;
  for (int c = 0; c < k; ++c)
    for (int d = 0; d < c; ++d) {
      if (std::max(ws.lo[c], ws.lo[d]) >= std::min(ws.hi[c], ws.hi[d])) continue;
      const int from = group[c], to = group[d];
      if (from == to) continue;
      for (int e = 0; e < k; ++e)
        if (group[e] == from) group[e] = to;
    }
  std::vector<int>& index = ws.index;
  for (int g = 0; g < k; ++g) {
    index.clear();
    for (int j = 0; j < p; ++j)
      if (group[j / 3] == g && ws.free_param[j]) index.push_back(j);
    const int q = static_cast<int>(index.size());
    if (q == 0) continue;
    // Correlation form (unit diagonal), so the pivot test is scale free: a pivot is
    // 1 - R^2 of a parameter on the ones before it.
    double* a = ws.system.data();
    for (int r = 0; r < q; ++r)
      for (int s = 0; s <= r; ++s) {
        const int u = index[r], v = index[s];
        a[r * q + s] = ws.jtj[u * p + v] / (std::sqrt(ws.jtj[u * p + u]) * std::sqrt(ws.jtj[v * p + v]));
      }
    if (!cholesky_factor(a, q, kSingularPivot)) continue;
    // diag((L L^T)^-1)_r = |L^-1 e_r|^2: one forward substitution per parameter.
    double* e = ws.step.data();
    for (int r = 0; r < q; ++r) {
      double norm2 = 0.0;
      for (int i = r; i < q; ++i) {
        double v = i == r ? 1.0 : 0.0;
        for (int m = r; m < i; ++m) v -= a[i * q + m] * e[m];
        e[i] = v / a[i * q + i];
        norm2 += e[i] * e[i];
      }
      const int j = index[r];
      errors[j] = noise * std::sqrt(norm2 / ws.jtj[j * p + j]);
    }
  }
  return rss;
}

}  // namespace phs
