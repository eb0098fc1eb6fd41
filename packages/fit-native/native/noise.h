// Step 1: the noise estimate (signal-masked MAD, after Riener et al. 2019, sect. 3.1.1).
#ifndef PHS_FIT_NOISE_H_
#define PHS_FIT_NOISE_H_

#include <cstddef>
#include <vector>

namespace phs {

struct NoiseOptions {
  // Positive runs longer than this many channels are masked as signal.
  int max_positive_run = 2;
  // Channels masked on each side of such a run.
  int pad = 2;
  // Channels with |f| > clip * sigma_mad are masked as well.
  double clip = 5.0;
  // Fewer surviving channels than this falls back to the plain MAD of everything.
  int min_channels = 5;
};

struct NoiseEstimate {
  double rms = 0.0;         // the noise estimate (0 for an empty input)
  double sigma_mad = 0.0;   // 1.4826 MAD of the unmasked non-positive channels (0 on fallback)
  int channels_used = 0;    // channels the rms was computed from
  bool fallback = false;    // true when the plain MAD / 0.6745 of all channels was used
};

// `f` holds n finite values (blank channels already removed by the caller).
// `scratch` is reused storage; its contents on return are unspecified.
NoiseEstimate estimate_noise(const double* f, std::size_t n, std::vector<double>& scratch,
                             const NoiseOptions& options = NoiseOptions());

// The plain MAD / 0.6745 of all n values (the fallback above).
double mad_sigma(const double* f, std::size_t n, std::vector<double>& scratch);

}  // namespace phs

#endif  // PHS_FIT_NOISE_H_
