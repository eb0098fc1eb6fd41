// Shared plain types of the decomposer: a Gaussian component, the cooperative deadline,
// and the model's constants. Everything here is a value type; nothing owns global state.
#ifndef PHS_FIT_GAUSSIAN_H_
#define PHS_FIT_GAUSSIAN_H_

#include <chrono>
#include <cmath>

namespace phs {

// FWHM = 2 sqrt(2 ln 2) sigma.
constexpr double kFwhmPerSigma = 2.3548200450309493;

// One Gaussian A exp(-(i - mean)^2 / (2 stddev^2)); mean and stddev in channels.
struct Component {
  double amplitude = 0.0;
  double mean = 0.0;
  double stddev = 1.0;
};

// A point in time after which a solver stops at its next check. Default: no deadline.
class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  Deadline() = default;
  // A deadline `ms` milliseconds from now; ms <= 0 or non-finite means none.
  static Deadline in_ms(double ms) {
    Deadline d;
    if (ms > 0.0 && std::isfinite(ms)) {
      d.active_ = true;
      d.at_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double, std::milli>(ms));
    }
    return d;
  }
  bool expired() const { return active_ && Clock::now() >= at_; }

 private:
  bool active_ = false;
  Clock::time_point at_{};
};

}  // namespace phs

#endif  // PHS_FIT_GAUSSIAN_H_
