// Noise estimate: mask signal-like positive runs, take a robust sigma from what is left,
// clip outliers at 5 sigma, and return the rms of the surviving channels.
#include "noise.h"

#include <algorithm>
#include <cmath>

namespace phs {
namespace {

constexpr double kMadToSigma = 1.4826;

// Median of v[0..n) (n > 0); reorders v. The mean of the two middle values when n is even.
double median_inplace(double* v, std::size_t n) {
  const std::size_t mid = n / 2;
  std::nth_element(v, v + mid, v + n);
  const double upper = v[mid];
  if (n % 2 == 1) return upper;
  const double lower = *std::max_element(v, v + mid);
  return 0.5 * (lower + upper);
}

// MAD about the median of v[0..n); reorders v.
double mad_inplace(double* v, std::size_t n) {
  const double med = median_inplace(v, n);
  for (std::size_t i = 0; i < n; ++i) v[i] = std::fabs(v[i] - med);
  return median_inplace(v, n);
}

}  // namespace

double mad_sigma(const double* f, std::size_t n, std::vector<double>& scratch) {
  if (n == 0) return 0.0;
  scratch.assign(f, f + n);
  return mad_inplace(scratch.data(), n) / 0.6745;
}

NoiseEstimate estimate_noise(const double* f, std::size_t n, std::vector<double>& scratch,
                             const NoiseOptions& options) {
  NoiseEstimate out;
  if (n == 0) return out;
  auto fallback = [&]() {
    out.rms = mad_sigma(f, n, scratch);
    out.sigma_mad = 0.0;
    out.channels_used = static_cast<int>(n);
    out.fallback = true;
    return out;
  };

  // 1. Mask runs of more than max_positive_run consecutive positive channels, padded.
  std::vector<unsigned char> mask(n, 0);
  std::size_t i = 0;
  while (i < n) {
    if (!(f[i] > 0.0)) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < n && f[j] > 0.0) ++j;
    if (j - i > static_cast<std::size_t>(options.max_positive_run)) {
      const std::size_t lo = i >= static_cast<std::size_t>(options.pad) ? i - options.pad : 0;
      const std::size_t hi = std::min(n, j + static_cast<std::size_t>(options.pad));
      std::fill(mask.begin() + lo, mask.begin() + hi, 1);
    }
    i = j;
  }

  // 2. Robust sigma from the unmasked non-positive channels.
  scratch.clear();
  for (std::size_t k = 0; k < n; ++k)
    if (!mask[k] && !(f[k] > 0.0)) scratch.push_back(f[k]);
  if (scratch.size() < static_cast<std::size_t>(options.min_channels)) return fallback();
  const double sigma = mad_inplace(scratch.data(), scratch.size()) * kMadToSigma;
  if (!(sigma > 0.0)) return fallback();

  // 3. + 4. Clip at clip * sigma and take the rms of what survives.
  const double limit = options.clip * sigma;
  double sum = 0.0;
  int count = 0;
  for (std::size_t k = 0; k < n; ++k) {
    if (mask[k] || std::fabs(f[k]) > limit) continue;
    sum += f[k] * f[k];
    ++count;
  }
  if (count < options.min_channels) return fallback();
  out.rms = std::sqrt(sum / count);
  out.sigma_mad = sigma;
  out.channels_used = count;
  out.fallback = false;
  return out;
}

}  // namespace phs
