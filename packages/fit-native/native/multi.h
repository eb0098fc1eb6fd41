// One spectrum decomposed for several parameter sets at once (a sweep's grid points), each
// result bit for bit what decompose() gives for that set alone. What does not depend on the
// set is computed once: blank channels, scale, noise and the persistence diagram. Beta only
// decides which peaks start the first fit, so a set whose starting components and other
// parameters (all but beta) equal an earlier set's gets that set's fit, which depends on
// nothing else.
#ifndef PHS_FIT_MULTI_H_
#define PHS_FIT_MULTI_H_

#include <memory>
#include <vector>

#include "batch.h"
#include "decompose.h"

namespace phs {

// One spectrum's results: set k's decomposition is distinct[which[k]] with min_persistence
// replaced by min_persistence[k] (the only field that differs between sets sharing a fit).
struct MultiDecomposition {
  std::vector<Decomposition> distinct;
  std::vector<int> which;
  std::vector<double> min_persistence;
};

// Scratch of decompose_multi beyond the decomposer's (one per call; small).
struct MultiScratch {
  std::vector<Peak> diagram;     // peaks above the lowest threshold, most persistent first
  std::vector<Peak> peaks;       // those above one set's threshold
  std::vector<Component> comps;  // one set's starting components
  std::vector<std::vector<Component>> starts;  // the starting components of each fit so far
  std::vector<int> start_set;                  // the set each fit was made for
  std::vector<unsigned char> fitted;           // 1 when that fit ran (0: nothing to fit)
};

// Every set's decomposition of one spectrum into out. Each fit gets its own deadline of
// timeout_ms (<= 0: none), as each spectrum of a batch does.
template <typename T>
void decompose_multi(const T* spectrum, int n, const std::vector<FitParams>& sets, double timeout_ms,
                     DecomposeWorkspace& ws, MultiScratch& scratch, MultiDecomposition& out);

// A batch for several parameter sets: results[s] for spectrum s of the batch it is bound to.
struct MultiBatch {
  std::vector<FitParams> sets;
  std::vector<MultiDecomposition> results;
};

// Makes `batch` (its cube, sizes and options set) compute `multi`'s sets on the pool instead
// of its own params: sizes multi->results and sets batch.work.
void bind_multi(Batch& batch, const std::shared_ptr<MultiBatch>& multi);

}  // namespace phs

#endif  // PHS_FIT_MULTI_H_
