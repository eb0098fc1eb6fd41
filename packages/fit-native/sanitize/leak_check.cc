// A native-only driver of the decomposer for scripts/native-sanitize.sh: built with ASan +
// UBSan as a plain executable (no Node), so that LeakSanitizer can check the whole native
// core for leaks, which it cannot do inside an uninstrumented Node. Random hostile spectra
// (NaN, +-Inf, denormals, huge, constant, steps, spikes, 0..5000 channels) and parameters go
// through decompose<float/double>, decompose_batch on 1-3 threads, and the step functions.
//
//   leak_check [cases] [seed]
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <vector>

#include "../native/batch.h"
#include "../native/decompose.h"
#include "../native/lm.h"
#include "../native/noise.h"
#include "../native/persistence.h"

namespace {

struct Rng {
  std::uint64_t s;
  std::uint64_t next() {  // splitmix64
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() { return (next() >> 11) * 0x1.0p-53; }
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  int integer(int a, int b) { return a + static_cast<int>(uniform() * (b - a + 1)); }
  double gauss() { return std::sqrt(-2.0 * std::log(1.0 - uniform())) * std::cos(6.283185307179586 * uniform()); }
  double log_uniform(double a, double b) { return std::exp(uniform(std::log(a), std::log(b))); }
};

const double kWild[] = {0.0, -0.0, 1e-310, -1e-310, 1e-45, 5e-324, 1e38, -1e38, 3.4e38, 1e300, -1e300,
                        std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                        -std::numeric_limits<double>::infinity(), 1.0, -1.0};

std::vector<double> spectrum(Rng& r, int n) {
  std::vector<double> f(n, 0.0);
  const int kind = r.integer(0, 7);
  const double noise = r.log_uniform(1e-3, 10.0);
  if (kind <= 2) {
    const int k = r.integer(0, 8);
    for (int c = 0; c < k; ++c) {
      const double a = r.log_uniform(0.01, 100.0), mu = r.uniform(-10.0, n + 10.0);
      const double s = r.log_uniform(0.2, std::max(0.3, n / 2.0));
      for (int i = 0; i < n; ++i) f[i] += a * std::exp(-(i - mu) * (i - mu) / (2 * s * s));
    }
    for (int i = 0; i < n; ++i) f[i] += noise * r.gauss();
  } else if (kind == 3) {
    for (double& v : f) v = kWild[r.integer(0, 10)];
  } else if (kind == 4) {
    const int at = r.integer(0, n);
    for (int i = 0; i < n; ++i) f[i] = (i < at ? 0.0 : 1e6) + noise * r.gauss();
  } else if (kind == 5) {
    for (int j = r.integer(1, 6); j > 0 && n > 0; --j) f[r.integer(0, n - 1)] = kWild[r.integer(0, 15)];
  } else {
    for (double& v : f) v = r.uniform() < 0.5 ? kWild[r.integer(0, 15)] : r.gauss() * r.log_uniform(1e-300, 1e300);
  }
  if (r.uniform() < 0.2)
    for (double& v : f)
      if (r.uniform() < 0.3) v = kWild[r.integer(11, 13)];
  return f;
}

phs::FitParams params(Rng& r) {
  phs::FitParams p;
  if (r.uniform() < 0.5) return p;
  p.beta = r.uniform(1e-3, 20.0);
  p.snr_min = r.uniform(0.0, 10.0);
  p.mf_snr_min = r.uniform(0.0, 20.0);
  p.f_sep = r.uniform(0.0, 10.0);
  p.neg_thresh = r.uniform(1e-6, 50.0);
  p.max_refine_iter = r.integer(0, 20);
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  const int cases = argc > 1 ? std::atoi(argv[1]) : 300;
  Rng r{static_cast<std::uint64_t>(argc > 2 ? std::atoll(argv[2]) : 1)};
  phs::DecomposeWorkspace ws;
  phs::Decomposition d;
  int spectra = 0;
  for (int c = 0; c < cases; ++c) {
    const int n = r.uniform() < 0.2 ? r.integer(0, 12) : r.integer(13, r.uniform() < 0.8 ? 1200 : 5000);
    const std::vector<double> f = spectrum(r, n);
    const phs::FitParams p = params(r);
    phs::DecomposeOptions opt;
    opt.deadline = phs::Deadline::in_ms(50.0);
    phs::decompose(f.data(), n, p, opt, ws, d);
    std::vector<float> g(f.begin(), f.end());
    opt.deadline = phs::Deadline::in_ms(50.0);
    phs::decompose(g.data(), n, p, opt, ws, d);
    spectra += 2;
    if (c % 10 == 0 && n > 0) {
      const int count = r.integer(1, 5);
      std::vector<float> cube(static_cast<std::size_t>(count) * n);
      for (int s = 0; s < count; ++s) {
        const std::vector<double> h = spectrum(r, n);
        for (int i = 0; i < n; ++i) cube[static_cast<std::size_t>(s) * n + i] = static_cast<float>(h[i]);
      }
      std::vector<phs::Decomposition> out;
      phs::BatchOptions bo;
      bo.threads = r.integer(1, 3);
      bo.timeout_ms = 50.0;
      const std::string error = phs::decompose_batch(cube.data(), count, n, p, bo, out);
      if (!error.empty()) {
        std::fprintf(stderr, "decompose_batch failed: %s\n", error.c_str());
        return 1;
      }
      spectra += count;
    }
    if (c % 5 == 0) {
      std::vector<double> scratch, finite;
      for (double v : f)
        if (std::isfinite(v)) finite.push_back(v);
      phs::estimate_noise(finite.data(), finite.size(), scratch);
      phs::PersistenceWorkspace pw;
      std::vector<phs::Peak> peaks;
      phs::find_peaks(finite.data(), finite.size(), r.uniform(0.0, 3.0), pw, peaks);
      std::vector<phs::Component> comps(r.integer(0, 5));
      for (phs::Component& k : comps)
        k = phs::Component{r.uniform() < 0.2 ? kWild[r.integer(0, 15)] : r.log_uniform(1e-3, 1e3),
                           r.uniform(-5.0, n + 5.0), r.uniform() < 0.2 ? kWild[r.integer(0, 15)] : r.log_uniform(0.01, 2.0 * n + 1)};
      phs::FitProblem pb;
      pb.y = finite.data();
      pb.n = static_cast<int>(finite.size());
      phs::LmOptions lo;
      lo.max_evaluations = r.integer(1, 300);
      phs::LmWorkspace lw;
      phs::fit_lm(pb, comps, lo, lw);
      std::vector<double> errors;
      phs::parameter_errors(pb, comps, r.uniform(0.0, 2.0), lo.window_sigmas, lw, errors);
    }
  }
  std::printf("leak check: %d cases (%d spectra) through the native core\n", cases, spectra);
  return 0;
}
