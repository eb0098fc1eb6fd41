// Work distribution: pool threads take the next spectrum of the oldest batch that has one
// left and room for another thread (BatchOptions::threads), one spectrum per lock (a spectrum
// takes ~0.5 ms, the lock well under 1 us).
#include "batch.h"

#include <algorithm>
#include <cstddef>
#include <exception>
#include <future>
#include <system_error>
#include <utility>

namespace phs {

struct DecomposePool::Job {
  std::shared_ptr<Batch> batch;
  Done done;
  // Guarded by the pool's mutex.
  int handed = 0;    // spectra given to a thread
  int finished = 0;  // spectra computed (or abandoned after an error)
  int active = 0;    // threads computing one of its spectra now
  bool failed = false;
  bool completed = false;
  std::string error;
};

DecomposePool::DecomposePool(int threads) {
  const int n = std::max(1, threads);
  workers_.reserve(n);
  for (int t = 0; t < n; ++t) {
    try {
      workers_.emplace_back([this] { work(); });
    } catch (const std::system_error&) {
      if (workers_.empty()) throw;
      break;  // fewer threads than asked: the others still drain the queue
    }
  }
}

DecomposePool::~DecomposePool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
  std::vector<std::shared_ptr<Job>> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dropped.swap(live_);
  }
  for (const std::shared_ptr<Job>& job : dropped) {
    if (job->completed) continue;
    job->completed = true;
    job->done("the decomposer shut down before the batch finished");
  }
}

void DecomposePool::submit(std::shared_ptr<Batch> batch, Done done) noexcept {
  std::shared_ptr<Job> job;
  try {
    job = std::make_shared<Job>();
    job->batch = std::move(batch);
    job->done = std::move(done);
    job->batch->out.assign(job->batch->n_spectra, Decomposition());
    if (job->batch->n_spectra == 0) {
      job->completed = true;
      job->done("");
      return;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      job->completed = true;
      job->done("the decomposer is shutting down");
      return;
    }
    live_.push_back(job);
    queue_.push_back(job);
  } catch (const std::exception& e) {
    if (job && job->done && !job->completed) job->done(e.what());
    return;
  }
  wake_.notify_all();
}

void DecomposePool::finish(const std::shared_ptr<Job>& job) noexcept {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    live_.erase(std::remove(live_.begin(), live_.end(), job), live_.end());
  }
  job->done(job->failed ? job->error : std::string());
}

void DecomposePool::work() noexcept {
  DecomposeWorkspace ws;
  DecomposeOptions opt;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    std::shared_ptr<Job> job;
    wake_.wait(lock, [&] {
      if (stopping_) return true;
      for (const std::shared_ptr<Job>& j : queue_)
        if (j->active < std::max(1, j->batch->options.threads)) {
          job = j;
          return true;
        }
      return false;
    });
    if (stopping_) return;
    const int s = job->handed++;
    ++job->active;
    if (job->handed >= job->batch->n_spectra) queue_.erase(std::find(queue_.begin(), queue_.end(), job));
    lock.unlock();

    std::string error;
    try {
      Batch& b = *job->batch;
      if (b.work) {
        b.work(s, ws);
      } else {
        opt.deadline = Deadline::in_ms(b.options.timeout_ms);
        decompose(b.cube.data() + static_cast<std::size_t>(s) * b.n_channels, b.n_channels, b.params, opt, ws, b.out[s]);
      }
    } catch (const std::exception& e) {
      error = e.what();
    }

    lock.lock();
    // A thread waits only while every queued batch is at its thread cap: wake one when this
    // batch drops below its cap with spectra left (not after every spectrum).
    const bool slot_freed = job->active-- == std::max(1, job->batch->options.threads) &&
                            job->handed < job->batch->n_spectra;
    ++job->finished;
    if (!error.empty() && !job->failed) {
      // Stop handing out its spectra: the batch fails as a whole.
      job->failed = true;
      job->error = error;
      job->finished += job->batch->n_spectra - job->handed;
      job->handed = job->batch->n_spectra;
      queue_.erase(std::remove(queue_.begin(), queue_.end(), job), queue_.end());
    }
    const bool complete = job->finished == job->batch->n_spectra && !job->completed;
    if (complete) job->completed = true;
    if (slot_freed && !job->failed) wake_.notify_one();
    if (complete) {
      lock.unlock();
      finish(job);
      lock.lock();
    }
  }
}

std::string decompose_batch(const float* cube, int n_spectra, int n_channels, const FitParams& params,
                            const BatchOptions& options, std::vector<Decomposition>& out) {
  try {
    auto batch = std::make_shared<Batch>();
    batch->cube.assign(cube, cube + static_cast<std::size_t>(n_spectra) * n_channels);
    batch->n_spectra = n_spectra;
    batch->n_channels = n_channels;
    batch->params = params;
    batch->options = options;
    std::promise<std::string> result;
    std::future<std::string> ready = result.get_future();
    {
      DecomposePool pool(std::min(std::max(1, options.threads), std::max(1, n_spectra)));
      pool.submit(batch, [&result](const std::string& error) { result.set_value(error); });
      const std::string error = ready.get();
      if (!error.empty()) return error;
    }
    out = std::move(batch->out);
    return "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

}  // namespace phs
