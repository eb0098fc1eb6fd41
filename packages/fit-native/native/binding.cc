// The Node-API boundary: argument checks, conversion to plain structs, and results as compact
// typed arrays (the TypeScript wrapper builds the objects). Every failure becomes a JS error;
// no C++ exception or pointer crosses this line.
#include <napi.h>

#include <cmath>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "batch.h"
#include "decompose.h"
#include "lm.h"
#include "multi.h"
#include "noise.h"
#include "persistence.h"

namespace {

using phs::Component;
using phs::Decomposition;
using phs::FitParams;

// status, rms, minPersistence, evaluations, blankChannels, residualRms, chi2Reduced, aicc
constexpr int kMetaFields = 8;
constexpr std::size_t kMaxChannels = 65536;

Napi::Value throw_type(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value throw_error(Napi::Env env, const std::string& message) {
  Napi::Error::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// A Float32Array or Float64Array, copied into doubles.
bool read_spectrum(const Napi::Value& v, std::vector<double>& out) {
  if (!v.IsTypedArray()) return false;
  const Napi::TypedArray ta = v.As<Napi::TypedArray>();
  const std::size_t n = ta.ElementLength();
  out.resize(n);
  if (ta.TypedArrayType() == napi_float32_array) {
    const float* p = ta.As<Napi::Float32Array>().Data();
    for (std::size_t i = 0; i < n; ++i) out[i] = p[i];
    return true;
  }
  if (ta.TypedArrayType() == napi_float64_array) {
    const double* p = ta.As<Napi::Float64Array>().Data();
    if (n) std::memcpy(out.data(), p, n * sizeof(double));
    return true;
  }
  return false;
}

constexpr std::size_t kParamFields = 6;

// The six values in order from a[0..6).
bool params_at(const double* a, FitParams& p) {
  for (std::size_t i = 0; i < kParamFields; ++i)
    if (!std::isfinite(a[i])) return false;
  p.beta = a[0];
  p.snr_min = a[1];
  p.mf_snr_min = a[2];
  p.f_sep = a[3];
  p.neg_thresh = a[4];
  p.max_refine_iter = static_cast<int>(a[5]);
  return p.beta > 0.0 && p.max_refine_iter >= 0;
}

// Params arrive validated by the wrapper as a Float64Array of the six values in order (six
// per set, sets in order, for `sets`).
bool read_params(const Napi::Value& v, std::vector<FitParams>& sets) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    return false;
  const Napi::Float64Array a = v.As<Napi::Float64Array>();
  if (a.ElementLength() == 0 || a.ElementLength() % kParamFields != 0) return false;
  sets.resize(a.ElementLength() / kParamFields);
  for (std::size_t k = 0; k < sets.size(); ++k)
    if (!params_at(a.Data() + kParamFields * k, sets[k])) return false;
  return true;
}

bool read_params(const Napi::Value& v, FitParams& p) {
  std::vector<FitParams> sets;
  if (!read_params(v, sets) || sets.size() != 1) return false;
  p = sets[0];
  return true;
}

Napi::Float64Array components_array(Napi::Env env, const std::vector<Component>& comps) {
  Napi::Float64Array a = Napi::Float64Array::New(env, 3 * comps.size());
  for (std::size_t k = 0; k < comps.size(); ++k) {
    a[3 * k] = comps[k].amplitude;
    a[3 * k + 1] = comps[k].mean;
    a[3 * k + 2] = comps[k].stddev;
  }
  return a;
}

// A decomposition's per-spectrum fields into meta[0..kMetaFields).
void write_meta(const Decomposition& d, double* meta) {
  meta[0] = static_cast<double>(d.status);
  meta[1] = d.rms;
  meta[2] = d.min_persistence;
  meta[3] = d.evaluations;
  meta[4] = d.blank_channels;
  meta[5] = d.residual_rms;
  meta[6] = d.chi2_reduced;
  meta[7] = d.aicc;
}

// The parameter errors of components [0, d.components.size()) into e, 3 per component.
void write_errors(const Decomposition& d, double* e) {
  for (std::size_t k = 0; k < d.components.size(); ++k) {
    const phs::ComponentError none;
    const phs::ComponentError& x = k < d.errors.size() ? d.errors[k] : none;
    e[3 * k] = x.amplitude;
    e[3 * k + 1] = x.mean;
    e[3 * k + 2] = x.stddev;
  }
}

bool read_components(const Napi::Value& v, std::vector<Component>& out) {
  std::vector<double> flat;
  if (!read_spectrum(v, flat) || flat.size() % 3 != 0) return false;
  out.resize(flat.size() / 3);
  for (std::size_t k = 0; k < out.size(); ++k)
    out[k] = Component{flat[3 * k], flat[3 * k + 1], flat[3 * k + 2]};
  return true;
}

// decompose(spectrum, params, timeoutMs)
//   -> { meta: Float64Array(kMetaFields), components: Float64Array, errors: Float64Array }
Napi::Value Decompose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<double> spectrum;
  FitParams params;
  if (info.Length() < 3 || !read_spectrum(info[0], spectrum))
    return throw_type(env, "decompose: spectrum must be a Float32Array or Float64Array");
  if (spectrum.size() > kMaxChannels)
    return throw_type(env, "decompose: at most 65536 channels");
  if (!read_params(info[1], params)) return throw_type(env, "decompose: invalid parameters");
  if (!info[2].IsNumber()) return throw_type(env, "decompose: timeoutMs must be a number");
  phs::DecomposeOptions options;
  options.deadline = phs::Deadline::in_ms(info[2].As<Napi::Number>().DoubleValue());
  phs::DecomposeWorkspace ws;
  Decomposition d;
  phs::decompose(spectrum.data(), static_cast<int>(spectrum.size()), params, options, ws, d);
  Napi::Object out = Napi::Object::New(env);
  Napi::Float64Array meta = Napi::Float64Array::New(env, kMetaFields);
  write_meta(d, meta.Data());
  Napi::Float64Array errors = Napi::Float64Array::New(env, 3 * d.components.size());
  write_errors(d, errors.Data());
  out.Set("meta", meta);
  out.Set("components", components_array(env, d.components));
  out.Set("errors", errors);
  return out;
}

// Per addon instance (per Node environment, so one per process without worker threads):
// the decomposer's one thread pool, started by the first batch and sized to the cores.
// Batches do not occupy libuv's threads: a pool thread settles the promise through a
// thread-safe function when the batch is done.
struct AddonData {
  std::unique_ptr<phs::DecomposePool> pool;
};

Napi::Object pack_results(Napi::Env env, const std::vector<const Decomposition*>& results);
Napi::Object multi_results(Napi::Env env, const phs::MultiBatch& multi);

struct BatchCall;
void SettleBatch(Napi::Env env, Napi::Function, std::nullptr_t*, BatchCall* call);
using BatchDone = Napi::TypedThreadSafeFunction<std::nullptr_t, BatchCall, SettleBatch>;

struct BatchCall {
  explicit BatchCall(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise::Deferred deferred;
  std::shared_ptr<phs::Batch> batch;
  std::shared_ptr<phs::MultiBatch> multi;  // set for decomposeBatchMulti
  std::string error;
  BatchDone done;
};

// On the JS thread (env is null when the environment is going away: just free the call).
void SettleBatch(Napi::Env env, Napi::Function, std::nullptr_t*, BatchCall* call) {
  std::unique_ptr<BatchCall> owned(call);
  if (env == nullptr) return;
  if (!call->error.empty()) {
    call->deferred.Reject(Napi::Error::New(env, "decomposeBatch failed: " + call->error).Value());
    return;
  }
  if (call->multi) {
    call->deferred.Resolve(multi_results(env, *call->multi));
    return;
  }
  std::vector<const Decomposition*> results;
  results.reserve(call->batch->out.size());
  for (const Decomposition& d : call->batch->out) results.push_back(&d);
  call->deferred.Resolve(pack_results(env, results));
}

// { meta, offsets, components, errors } of decompositions, as decomposeBatch returns them.
Napi::Object pack_results(Napi::Env env, const std::vector<const Decomposition*>& results) {
  std::size_t total = 0;
  for (const Decomposition* d : results) total += d->components.size();
  Napi::Float64Array meta = Napi::Float64Array::New(env, kMetaFields * results.size());
  Napi::Uint32Array offsets = Napi::Uint32Array::New(env, results.size() + 1);
  Napi::Float64Array comps = Napi::Float64Array::New(env, 3 * total);
  Napi::Float64Array errors = Napi::Float64Array::New(env, 3 * total);
  double* m = meta.Data();
  uint32_t* o = offsets.Data();
  double* c = comps.Data();
  std::size_t at = 0;
  for (std::size_t s = 0; s < results.size(); ++s) {
    const Decomposition& d = *results[s];
    write_meta(d, m + kMetaFields * s);
    write_errors(d, errors.Data() + 3 * at);
    o[s] = static_cast<uint32_t>(at);
    for (const Component& k : d.components) {
      c[3 * at] = k.amplitude;
      c[3 * at + 1] = k.mean;
      c[3 * at + 2] = k.stddev;
      ++at;
    }
  }
  o[results.size()] = static_cast<uint32_t>(at);
  Napi::Object out = Napi::Object::New(env);
  out.Set("meta", meta);
  out.Set("offsets", offsets);
  out.Set("components", comps);
  out.Set("errors", errors);
  return out;
}

// Every spectrum's distinct decompositions packed as decomposeBatch's (spectrum by
// spectrum), plus which: Uint32Array(sets n) and minPersistence: Float64Array(sets n), set k
// of spectrum s at k n + s.
Napi::Object multi_results(Napi::Env env, const phs::MultiBatch& multi) {
  const std::size_t n = multi.results.size();
  const std::size_t sets = multi.sets.size();
  std::vector<const Decomposition*> all;
  Napi::Uint32Array which = Napi::Uint32Array::New(env, sets * n);
  Napi::Float64Array min_persistence = Napi::Float64Array::New(env, sets * n);
  for (std::size_t s = 0; s < n; ++s) {
    const phs::MultiDecomposition& r = multi.results[s];
    for (std::size_t k = 0; k < sets; ++k) {
      which[k * n + s] = static_cast<uint32_t>(all.size() + r.which[k]);
      min_persistence[k * n + s] = r.min_persistence[k];
    }
    for (const Decomposition& d : r.distinct) all.push_back(&d);
  }
  Napi::Object out = pack_results(env, all);
  out.Set("which", which);
  out.Set("minPersistence", min_persistence);
  return out;
}

phs::DecomposePool& pool_of(Napi::Env env) {
  AddonData* data = env.GetInstanceData<AddonData>();
  if (!data->pool) data->pool = std::make_unique<phs::DecomposePool>(static_cast<int>(std::thread::hardware_concurrency()));
  return *data->pool;
}

// decomposeBatch(cube: Float32Array, nChannels, params, threads, timeoutMs)
//   -> Promise<{ meta: Float64Array(kMetaFields n), offsets: Uint32Array(n + 1), components,
//                errors (3 per component, as components) }>
// decomposeBatchMulti(cube, nChannels, paramSets (6 per set), threads, timeoutMs)
//   -> Promise<the same of every spectrum's distinct decompositions, plus which and
//      minPersistence (multi_results)>
template <bool kMulti>
Napi::Value DecomposeBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = kMulti ? "decomposeBatchMulti" : "decomposeBatch";
  if (info.Length() < 5 || !info[0].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    return throw_type(env, name + ": cube must be a Float32Array");
  if (!info[1].IsNumber() || !info[3].IsNumber() || !info[4].IsNumber())
    return throw_type(env, name + ": nChannels, threads and timeoutMs must be numbers");
  std::vector<FitParams> sets;
  if (!read_params(info[2], sets) || (!kMulti && sets.size() != 1))
    return throw_type(env, name + ": invalid parameters");
  const Napi::Float32Array cube = info[0].As<Napi::Float32Array>();
  const double channels = info[1].As<Napi::Number>().DoubleValue();
  const double threads = info[3].As<Napi::Number>().DoubleValue();
  const std::size_t length = cube.ElementLength();
  if (!(channels >= 1.0) || channels != std::floor(channels) || channels > kMaxChannels ||
      length % static_cast<std::size_t>(channels) != 0)
    return throw_type(env, name + ": cube length must be a multiple of nChannels");
  if (!(threads >= 1.0) || threads > 1024.0)
    return throw_type(env, name + ": threads must be in [1, 1024]");
  const std::size_t n_spectra = length / static_cast<std::size_t>(channels);
  if (n_spectra > 0x7fffffff) return throw_type(env, name + ": too many spectra");
  auto call = std::make_unique<BatchCall>(env);
  call->batch = std::make_shared<phs::Batch>();
  phs::Batch& batch = *call->batch;
  batch.cube.assign(cube.Data(), cube.Data() + length);
  batch.n_spectra = static_cast<int>(n_spectra);
  batch.n_channels = static_cast<int>(channels);
  batch.params = sets[0];
  batch.options.threads = static_cast<int>(threads);
  batch.options.timeout_ms = info[4].As<Napi::Number>().DoubleValue();
  if (kMulti) {
    call->multi = std::make_shared<phs::MultiBatch>();
    call->multi->sets = sets;
    phs::bind_multi(batch, call->multi);
  }
  call->done = BatchDone::New(env, "phs:decomposeBatch", 0, 1);
  if (env.IsExceptionPending()) return env.Undefined();
  Napi::Promise promise = call->deferred.Promise();
  BatchCall* pending = call.release();
  pool_of(env).submit(pending->batch, [pending](const std::string& error) {
    pending->error = error;
    // After the call, `pending` may already be settled and freed on the JS thread.
    BatchDone done = pending->done;
    const napi_status status = done.NonBlockingCall(pending);
    if (status == napi_closing) {
      delete pending;
      return;
    }
    if (status != napi_ok) delete pending;
    done.Release();
  });
  return promise;
}

// Threads of this instance's pool (starting it): for tests and benchmarks.
Napi::Value PoolThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), pool_of(info.Env()).threads());
}

// Debug exports: the individual steps, for tests.
Napi::Value Noise(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<double> f, scratch;
  if (info.Length() < 1 || !read_spectrum(info[0], f))
    return throw_type(env, "noise: expected a Float32Array or Float64Array");
  const phs::NoiseEstimate e = phs::estimate_noise(f.data(), f.size(), scratch);
  Napi::Object out = Napi::Object::New(env);
  out.Set("rms", e.rms);
  out.Set("sigmaMad", e.sigma_mad);
  out.Set("channelsUsed", e.channels_used);
  out.Set("fallback", e.fallback);
  return out;
}

Napi::Value Peaks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<double> f;
  if (info.Length() < 2 || !read_spectrum(info[0], f) || !info[1].IsNumber())
    return throw_type(env, "peaks: expected (Float64Array, threshold)");
  phs::PersistenceWorkspace ws;
  std::vector<phs::Peak> peaks;
  phs::find_peaks(f.data(), f.size(), info[1].As<Napi::Number>().DoubleValue(), ws, peaks);
  std::vector<int> identity(f.size());
  for (std::size_t i = 0; i < identity.size(); ++i) identity[i] = static_cast<int>(i);
  Napi::Array out = Napi::Array::New(env, peaks.size());
  for (std::size_t k = 0; k < peaks.size(); ++k) {
    const phs::Peak& p = peaks[k];
    const Component g = phs::initial_guess(p, identity.data());
    Napi::Object o = Napi::Object::New(env);
    o.Set("index", p.index);
    o.Set("birth", p.birth);
    o.Set("death", p.death);
    o.Set("persistence", p.persistence);
    o.Set("saddle", p.saddle);
    o.Set("stddevGuess", g.stddev);
    out.Set(static_cast<uint32_t>(k), o);
  }
  return out;
}

const char* status_name(phs::LmStatus s) {
  switch (s) {
    case phs::LmStatus::kGradientTolerance: return "gradient_tolerance";
    case phs::LmStatus::kFunctionTolerance: return "function_tolerance";
    case phs::LmStatus::kParameterTolerance: return "parameter_tolerance";
    case phs::LmStatus::kMaxEvaluations: return "max_evaluations";
    case phs::LmStatus::kDeadline: return "deadline";
    case phs::LmStatus::kNumericalFailure: return "numerical_failure";
    case phs::LmStatus::kNoParameters: return "no_parameters";
  }
  return "unknown";
}

Napi::Value Fit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<double> f;
  std::vector<Component> comps;
  if (info.Length() < 3 || !read_spectrum(info[0], f) || !read_components(info[1], comps) ||
      !info[2].IsNumber())
    return throw_type(env, "fit: expected (Float64Array, Float64Array of A, mean, sd, maxEvaluations)");
  std::vector<unsigned char> weight(f.size(), 1);
  bool blank = false;
  for (std::size_t i = 0; i < f.size(); ++i)
    if (!std::isfinite(f[i])) {
      weight[i] = 0;
      f[i] = 0.0;
      blank = true;
    }
  phs::FitProblem pb;
  pb.y = f.data();
  pb.weight = blank ? weight.data() : nullptr;
  pb.n = static_cast<int>(f.size());
  phs::LmOptions opt;
  opt.max_evaluations = static_cast<int>(info[2].As<Napi::Number>().DoubleValue());
  const double noise = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : 1.0;
  phs::LmWorkspace ws;
  const phs::LmSummary s = phs::fit_lm(pb, comps, opt, ws);
  std::vector<double> errors;
  phs::parameter_errors(pb, comps, noise, opt.window_sigmas, ws, errors);
  Napi::Float64Array errors_array = Napi::Float64Array::New(env, errors.size());
  if (!errors.empty()) std::memcpy(errors_array.Data(), errors.data(), errors.size() * sizeof(double));
  Napi::Object out = Napi::Object::New(env);
  out.Set("components", components_array(env, comps));
  out.Set("errors", errors_array);
  out.Set("status", status_name(s.status));
  out.Set("evaluations", s.evaluations);
  out.Set("iterations", s.iterations);
  out.Set("initialCost", s.initial_cost);
  out.Set("finalCost", s.final_cost);
  return out;
}

// Any C++ exception (e.g. std::bad_alloc) becomes a JS Error at this line.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const std::exception& e) {
    return throw_error(info.Env(), std::string("phs_fit: ") + e.what());
  } catch (...) {
    return throw_error(info.Env(), "phs_fit: unknown native error");
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  exports.Set("poolThreads", Napi::Function::New(env, guarded<PoolThreads>, "poolThreads"));
  exports.Set("decompose", Napi::Function::New(env, guarded<Decompose>, "decompose"));
  exports.Set("decomposeBatch",
              Napi::Function::New(env, guarded<DecomposeBatch<false>>, "decomposeBatch"));
  exports.Set("decomposeBatchMulti",
              Napi::Function::New(env, guarded<DecomposeBatch<true>>, "decomposeBatchMulti"));
  exports.Set("noise", Napi::Function::New(env, guarded<Noise>, "noise"));
  exports.Set("peaks", Napi::Function::New(env, guarded<Peaks>, "peaks"));
  exports.Set("fit", Napi::Function::New(env, guarded<Fit>, "fit"));
  return exports;
}

}  // namespace

NODE_API_MODULE(phs_fit, Init)
