// Sharing between parameter sets: the diagram is found once at the lowest threshold (a
// set's peaks are exactly those above its own threshold, in the same order: find_peaks's
// union-find does not depend on the threshold and its order is total), and a fit is reused
// only when everything that decides it is equal bit for bit.
#include "multi.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace phs {
namespace {

bool same_bits(double a, double b) {
  std::uint64_t x = 0, y = 0;
  std::memcpy(&x, &a, sizeof x);
  std::memcpy(&y, &b, sizeof y);
  return x == y;
}

bool same_components(const std::vector<Component>& a, const std::vector<Component>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k)
    if (!same_bits(a[k].amplitude, b[k].amplitude) || !same_bits(a[k].mean, b[k].mean) ||
        !same_bits(a[k].stddev, b[k].stddev))
      return false;
  return true;
}

// Equal in every parameter the fit reads (all but beta).
bool same_fit_params(const FitParams& a, const FitParams& b) {
  return same_bits(a.snr_min, b.snr_min) && same_bits(a.mf_snr_min, b.mf_snr_min) &&
         same_bits(a.f_sep, b.f_sep) && same_bits(a.neg_thresh, b.neg_thresh) &&
         a.max_refine_iter == b.max_refine_iter;
}

}  // namespace

template <typename T>
void decompose_multi(const T* spectrum, int n, const std::vector<FitParams>& sets, double timeout_ms,
                     DecomposeWorkspace& ws, MultiScratch& sc, MultiDecomposition& out) {
  const std::size_t count = sets.size();
  out.distinct.clear();
  out.which.assign(count, 0);
  out.min_persistence.assign(count, NAN);
  sc.starts.clear();
  sc.start_set.clear();
  sc.fitted.clear();
  if (count == 0) return;

  DecomposeOptions options;
  options.deadline = Deadline::in_ms(timeout_ms);
  PreparedSpectrum prep;
  Decomposition base;
  prepare_spectrum(spectrum, n, options, ws, prep, base);
  for (std::size_t k = 0; k < count; ++k) out.min_persistence[k] = min_persistence(prep, sets[k]);
  if (prep.stage != PreparedSpectrum::Stage::kPeaks) {
    base.min_persistence = out.min_persistence[0];
    out.distinct.push_back(base);
    return;
  }

  double lowest = std::numeric_limits<double>::infinity();
  for (const FitParams& p : sets) lowest = std::min(lowest, p.beta * prep.rms);
  find_peaks(ws.refine.compact.data(), prep.valid, lowest, ws.refine.persistence, sc.diagram);

  for (std::size_t k = 0; k < count; ++k) {
    const FitParams& params = sets[k];
    const double threshold = params.beta * prep.rms;
    sc.peaks.clear();
    for (const Peak& p : sc.diagram)
      if (p.persistence > threshold) sc.peaks.push_back(p);
    const bool any = initial_components(prep, sc.peaks, params, options, ws, sc.comps);
    std::size_t fit = 0;
    while (fit < out.distinct.size() &&
           !((sc.fitted[fit] != 0) == any && same_fit_params(sets[sc.start_set[fit]], params) &&
             same_components(sc.starts[fit], sc.comps)))
      ++fit;
    if (fit == out.distinct.size()) {
      sc.starts.push_back(sc.comps);
      sc.start_set.push_back(static_cast<int>(k));
      sc.fitted.push_back(any ? 1 : 0);
      out.distinct.push_back(base);
      Decomposition& d = out.distinct.back();
      if (any) {
        options.deadline = Deadline::in_ms(timeout_ms);
        fit_components(prep, params, options, sc.comps, ws, d);
      } else {
        assess_unfitted(prep, ws, d);
      }
      d.min_persistence = out.min_persistence[k];
    }
    out.which[k] = static_cast<int>(fit);
  }
}

template void decompose_multi<float>(const float*, int, const std::vector<FitParams>&, double,
                                     DecomposeWorkspace&, MultiScratch&, MultiDecomposition&);
template void decompose_multi<double>(const double*, int, const std::vector<FitParams>&, double,
                                      DecomposeWorkspace&, MultiScratch&, MultiDecomposition&);

void bind_multi(Batch& batch, const std::shared_ptr<MultiBatch>& multi) {
  multi->results.assign(batch.n_spectra, MultiDecomposition());
  const Batch* b = &batch;  // the batch owns this function, so it outlives every call
  batch.work = [b, multi](int s, DecomposeWorkspace& ws) {
    MultiScratch scratch;
    decompose_multi(b->cube.data() + static_cast<std::size_t>(s) * b->n_channels, b->n_channels,
                    multi->sets, b->options.timeout_ms, ws, scratch, multi->results[s]);
  };
}

}  // namespace phs
