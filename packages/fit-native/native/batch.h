// Batches of spectra decomposed on a pool of std::threads, each thread with its own
// workspace. One pool serves every batch of a process (of an addon instance): batches queue
// on it instead of each starting threads of its own, so there are never more fitting threads
// than the pool's size, and the caller's thread is not one of them.
#ifndef PHS_FIT_BATCH_H_
#define PHS_FIT_BATCH_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "decompose.h"

namespace phs {

struct BatchOptions {
  int threads = 1;          // at most this many pool threads work on the batch at once
  double timeout_ms = 0.0;  // per-spectrum budget; <= 0 or non-finite: none
};

// One batch: cube is spectrum-major [n_spectra][n_channels]; out[s] is spectrum s's result
// whatever thread computed it (each spectrum is computed alone, so the bits do not depend on
// the thread count, the pool's size or the other batches).
struct Batch {
  std::vector<float> cube;
  int n_spectra = 0;
  int n_channels = 0;
  FitParams params;
  BatchOptions options;
  std::vector<Decomposition> out;
  // When set, the pool calls this for spectrum s instead of decomposing it into out[s] with
  // params (multi.h); calls for different spectra run concurrently.
  std::function<void(int s, DecomposeWorkspace& ws)> work;
};

class DecomposePool {
 public:
  // Called once per batch on a pool thread (or in ~DecomposePool for a batch it drops):
  // an empty string, or why the batch failed (out of memory, pool shut down).
  using Done = std::function<void(const std::string& error)>;

  // threads < 1 means one.
  explicit DecomposePool(int threads);
  // Finishes the spectra being computed, then ends every unfinished batch with an error.
  ~DecomposePool();
  DecomposePool(const DecomposePool&) = delete;
  DecomposePool& operator=(const DecomposePool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()); }

  // Queues a batch (out is sized here); done runs once it is complete. Never throws: a
  // failure to queue is reported through done, on the calling thread.
  void submit(std::shared_ptr<Batch> batch, Done done) noexcept;

 private:
  struct Job;
  void work() noexcept;
  void finish(const std::shared_ptr<Job>& job) noexcept;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;    // batches with spectra still to hand out
  std::vector<std::shared_ptr<Job>> live_;    // every unfinished batch
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// Decomposes one batch on a pool of its own (options.threads threads) and waits: for
// callers without a shared pool (the leak check). Returns an empty string or the reason.
std::string decompose_batch(const float* cube, int n_spectra, int n_channels, const FitParams& params,
                            const BatchOptions& options, std::vector<Decomposition>& out);

}  // namespace phs

#endif  // PHS_FIT_BATCH_H_
