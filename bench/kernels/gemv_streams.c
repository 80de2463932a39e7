// How the order of weight reads bounds a decode GEMV (y = W a, W stored [N, K], f32) on this
// machine, outside Kiln: the same AVX2 arithmetic over the same 150 MB of weights (far larger
// than the L3 cache), with four read orders, one thread:
//
//   sum        a plain streaming sum of W (the machine's read bandwidth)
//   one-row    one output at a time, each 256-float chunk reduced into the next (Kiln's
//              dot-product kernel before the stream schedule)
//   8-adjacent 8 neighbouring rows side by side, vector accumulators across K
//   8-strided  8 rows 8 apart (rows j, j+8, ..., j+56 of each 64-row block): the order of
//              ScheduleMatvec.cpp
//
//   cc -O2 -mavx2 -mfma bench/kernels/gemv_streams.c -o /tmp/gemv_streams
//   chrt -f 10 /tmp/gemv_streams [K ...]      (default K: 768 3072)
//
// Prints GB/s of weights read, best of 5 runs per order.
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static float hsum(__m256 v) {
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  h = _mm_hadd_ps(h, h);
  h = _mm_hadd_ps(h, h);
  return _mm_cvtss_f32(h);
}

static void oneRow(const float *a, const float *w, float *y, long n, long k) {
  for (long i = 0; i < n; ++i) {
    const float *row = w + i * k;
    float acc = 0;
    for (long c = 0; c < k; c += 256) {
      __m256 s[32];
      for (int v = 0; v < 32; ++v)
        s[v] = _mm256_mul_ps(_mm256_loadu_ps(a + c + 8 * v), _mm256_loadu_ps(row + c + 8 * v));
      for (int width = 16; width >= 1; width /= 2)
        for (int v = 0; v < width; ++v)
          s[v] = _mm256_add_ps(s[v], s[v + width]);
      acc += hsum(s[0]);
    }
    y[i] = acc;
  }
}

// Rows `first`, `first + stride`, ..., 8 of them.
static void eightRows(const float *a, const float *w, float *y, long first, long stride,
                      long k) {
  __m256 s[8];
  for (int r = 0; r < 8; ++r)
    s[r] = _mm256_setzero_ps();
  for (long c = 0; c < k; c += 8) {
    __m256 x = _mm256_loadu_ps(a + c);
    for (int r = 0; r < 8; ++r)
      s[r] = _mm256_add_ps(s[r],
                           _mm256_mul_ps(x, _mm256_loadu_ps(w + (first + r * stride) * k + c)));
  }
  for (int r = 0; r < 8; ++r)
    y[first + r * stride] = hsum(s[r]);
}

static void adjacent(const float *a, const float *w, float *y, long n, long k) {
  for (long i = 0; i < n; i += 8)
    eightRows(a, w, y, i, 1, k);
}

static void strided(const float *a, const float *w, float *y, long n, long k) {
  for (long block = 0; block < n; block += 64)
    for (long j = 0; j < 8; ++j)
      eightRows(a, w, y, block + j, 8, k);
}

static void sum(const float *a, const float *w, float *y, long n, long k) {
  (void)a;
  __m256 s[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                 _mm256_setzero_ps()};
  for (long i = 0; i < n * k; i += 32)
    for (int v = 0; v < 4; ++v)
      s[v] = _mm256_add_ps(s[v], _mm256_loadu_ps(w + i + 8 * v));
  y[0] = hsum(_mm256_add_ps(_mm256_add_ps(s[0], s[1]), _mm256_add_ps(s[2], s[3])));
}

int main(int argc, char **argv) {
  const size_t bytes = 150u << 20;
  float *w = aligned_alloc(64, bytes);
  float *a = aligned_alloc(64, 4096 * sizeof(float));
  float *y = aligned_alloc(64, bytes / 256 + 4096);
  if (!w || !a || !y) {
    fprintf(stderr, "gemv_streams: out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < bytes / sizeof(float); ++i)
    w[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
  for (int i = 0; i < 4096; ++i)
    a[i] = (float)(i % 17) * 0.01f;
  long ks[8] = {768, 3072};
  int nk = 2;
  if (argc > 1) {
    nk = 0;
    for (int i = 1; i < argc && nk < 8; ++i) {
      long k = atol(argv[i]);
      if (k <= 0 || k % 256 != 0 || k > 4096) {
        fprintf(stderr, "gemv_streams: K must be a multiple of 256 up to 4096, got '%s'\n",
                argv[i]);
        return 1;
      }
      ks[nk++] = k;
    }
  }
  struct {
    const char *name;
    void (*run)(const float *, const float *, float *, long, long);
  } orders[] = {{"sum", sum}, {"one-row", oneRow}, {"8-adjacent", adjacent},
                {"8-strided", strided}};
  for (int ki = 0; ki < nk; ++ki) {
    long k = ks[ki];
    long n = (long)(bytes / sizeof(float) / k) / 64 * 64;
    printf("K = %ld, N = %ld (%.0f MB of weights)\n", k, n, n * k * 4 / 1e6);
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; ++o) {
      double best = 1e30, check = 0;
      for (int rep = 0; rep < 5; ++rep) {
        double t = now();
        orders[o].run(a, w, y, n, k);
        t = now() - t;
        best = t < best ? t : best;
      }
      for (long i = 0; i < (o == 0 ? 1 : n); ++i)
        check += y[i];
      printf("  %-11s %6.1f GB/s   (checksum %.6g)\n", orders[o].name, n * k * 4 / best / 1e9,
             check);
    }
  }
  return 0;
}
