// read_bandwidth: how fast this machine's cores read memory, the bound of a decoded token
// (which reads every weight once). T threads each sum their part of a 1 GiB buffer with AVX2
// (four independent accumulators), five rounds; GB/s of the whole buffer per round.
//
//   cc -O2 -mavx2 -pthread bench/kernels/read_bandwidth.c -o /tmp/read_bandwidth
//   chrt -f 10 /tmp/read_bandwidth 1; chrt -f 10 /tmp/read_bandwidth 2
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const size_t kFloats = (size_t)1 << 28;
static float *buffer;
static int threads;
static volatile float sink;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *sumPart(void *arg) {
  size_t per = kFloats / threads;
  const float *p = buffer + (size_t)(long)arg * per;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i + 32 <= per; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_load_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_load_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_load_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_load_ps(p + i + 24));
  }
  float s[8];
  _mm256_storeu_ps(s, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  sink = s[0];
  return NULL;
}

int main(int argc, char **argv) {
  threads = argc > 1 ? atoi(argv[1]) : 1;
  if (threads < 1 || threads > 64) {
    fprintf(stderr, "usage: read_bandwidth [THREADS (1-64)]\n");
    return 2;
  }
  buffer = aligned_alloc(64, kFloats * sizeof(float));
  if (!buffer) {
    fprintf(stderr, "read_bandwidth: cannot allocate 1 GiB\n");
    return 1;
  }
  memset(buffer, 0, kFloats * sizeof(float));
  for (int round = 0; round < 5; ++round) {
    pthread_t workers[64];
    double start = now();
    for (long i = 0; i < threads; ++i)
      pthread_create(&workers[i], NULL, sumPart, (void *)i);
    for (int i = 0; i < threads; ++i)
      pthread_join(workers[i], NULL);
    printf("%d thread(s): %.1f GB/s\n", threads, kFloats * sizeof(float) / (now() - start) / 1e9);
  }
  return 0;
}
