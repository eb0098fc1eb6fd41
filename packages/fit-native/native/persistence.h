// Step 2: peaks by 0-dimensional persistent homology of the upper-level sets.
#ifndef PHS_FIT_PERSISTENCE_H_
#define PHS_FIT_PERSISTENCE_H_

#include <cstddef>
#include <vector>

#include "gaussian.h"

namespace phs {

struct Peak {
  int index = 0;          // position of the local maximum
  double birth = 0.0;     // f(index)
  double death = 0.0;     // value at which it merged into an older peak (0 for the oldest)
  double persistence = 0.0;  // birth - death
  int saddle = -1;        // position where it died; -1 for the global maximum
};

// Reusable storage for find_peaks (one per worker; contents unspecified between calls).
struct PersistenceWorkspace {
  std::vector<int> order;
  std::vector<int> parent;
  std::vector<int> peak_of;
};

// Peaks of f[0..n) with persistence > min_persistence, most persistent first (ties: lower
// index first). Channels are visited in decreasing value (ties: lower index first); the
// younger of two merging components (lower maximum; on a tie the later visited) dies.
void find_peaks(const double* f, std::size_t n, double min_persistence,
                PersistenceWorkspace& ws, std::vector<Peak>& out);

// The initial guess for a peak: amplitude f(peak), mean at the peak,
// stddev d / sqrt(2 ln(birth / death)) with d the peak-to-saddle distance (1 when undefined).
// `position` maps an index of f to a channel (identity when no channel is blank).
Component initial_guess(const Peak& peak, const int* position);

}  // namespace phs

#endif  // PHS_FIT_PERSISTENCE_H_
