// Persistence by union-find over channels visited in decreasing value.
#include "persistence.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace phs {
namespace {

int find_root(std::vector<int>& parent, int x) {
  while (parent[x] != x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

}  // namespace

void find_peaks(const double* f, std::size_t n, double min_persistence,
                PersistenceWorkspace& ws, std::vector<Peak>& out) {
  out.clear();
  if (n == 0) return;
  ws.order.resize(n);
  std::iota(ws.order.begin(), ws.order.end(), 0);
  std::stable_sort(ws.order.begin(), ws.order.end(), [f](int a, int b) { return f[a] > f[b]; });
  ws.parent.assign(n, -1);   // -1: not yet visited
  ws.peak_of.assign(n, -1);  // root -> index of the component's maximum

  // Equal values are visited in index order, so of two equal maxima the lower index is elder.
  auto elder = [&](int a, int b) {  // a, b: peak indices; true when a is older than b
    if (f[a] != f[b]) return f[a] > f[b];
    return a < b;
  };

  for (std::size_t k = 0; k < n; ++k) {
    const int i = ws.order[k];
    ws.parent[i] = i;
    ws.peak_of[i] = i;
    const bool left = i > 0 && ws.parent[i - 1] >= 0;
    const bool right = static_cast<std::size_t>(i) + 1 < n && ws.parent[i + 1] >= 0;
    if (!left && !right) continue;  // a birth
    if (left != right) {            // joins its one visited neighbour
      const int r = find_root(ws.parent, left ? i - 1 : i + 1);
      ws.parent[i] = r;
      continue;
    }
    // Two components meet at i: the younger dies here.
    const int rl = find_root(ws.parent, i - 1);
    const int rr = find_root(ws.parent, i + 1);
    const int pl = ws.peak_of[rl];
    const int pr = ws.peak_of[rr];
    const bool left_elder = elder(pl, pr);
    const int young = left_elder ? pr : pl;
    const double persistence = f[young] - f[i];
    if (persistence > min_persistence) {
      Peak p;
      p.index = young;
      p.birth = f[young];
      p.death = f[i];
      p.persistence = persistence;
      p.saddle = i;
      out.push_back(p);
    }
    const int keep = left_elder ? rl : rr;
    const int drop = left_elder ? rr : rl;
    ws.parent[drop] = keep;
    ws.parent[i] = keep;
  }

  const int top = ws.order[0];
  if (f[top] > min_persistence) {
    Peak p;
    p.index = top;
    p.birth = f[top];
    p.death = 0.0;
    p.persistence = f[top];
    p.saddle = -1;
    out.push_back(p);
  }
  std::stable_sort(out.begin(), out.end(), [](const Peak& a, const Peak& b) {
    if (a.persistence != b.persistence) return a.persistence > b.persistence;
    return a.index < b.index;
  });
}

Component initial_guess(const Peak& peak, const int* position) {
  Component c;
  c.amplitude = peak.birth;
  c.mean = position[peak.index];
  c.stddev = 1.0;
  if (peak.saddle < 0 || !(peak.death > 0.0)) return c;
  const double d = std::fabs(static_cast<double>(position[peak.index] - position[peak.saddle]));
  const double ratio = peak.birth / peak.death;
  if (d == 0.0 || !(ratio > 1.0)) return c;
  const double s = d / std::sqrt(2.0 * std::log(ratio));
  if (std::isfinite(s)) c.stddev = s;
  return c;
}

}  // namespace phs
