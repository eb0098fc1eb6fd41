// Work distribution by an atomic counter: threads take the next spectrum until none is left.
#include "batch.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

namespace phs {

std::string decompose_batch(const float* cube, int n_spectra, int n_channels,
                            const FitParams& params, const BatchOptions& options,
                            std::vector<Decomposition>& out) {
  std::mutex error_mutex;
  std::string error;
  try {
    out.assign(n_spectra, Decomposition());
    std::atomic<int> next{0};
    auto work = [&]() noexcept {
      try {
        DecomposeWorkspace ws;
        DecomposeOptions opt;
        for (;;) {
          const int s = next.fetch_add(1, std::memory_order_relaxed);
          if (s >= n_spectra) return;
          opt.deadline = Deadline::in_ms(options.timeout_ms);
          decompose(cube + static_cast<std::size_t>(s) * n_channels, n_channels, params, opt,
                    ws, out[s]);
        }
      } catch (const std::exception& e) {
        next.store(n_spectra);
        std::lock_guard<std::mutex> lock(error_mutex);
        if (error.empty()) error = e.what();
      }
    };
    const int threads = std::max(1, std::min(options.threads, n_spectra));
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    for (int t = 1; t < threads; ++t) {
      try {
        pool.emplace_back(work);
      } catch (const std::system_error&) {
        break;  // fewer threads than asked: the others still drain the queue
      }
    }
    work();
    for (std::thread& t : pool) t.join();
  } catch (const std::exception& e) {
    return e.what();
  }
  return error;
}

}  // namespace phs
