/*
 * LD_PRELOAD allocation counter for bench/run.sh ("allocations per request").
 *
 * Counts calls to malloc, calloc, realloc (and aligned allocations, and free) in the whole
 * process and rewrites ALLOC_COUNT_FILE every 50 ms with one fixed-width line:
 *   malloc=N calloc=N realloc=N aligned=N free=N bytes=N
 * The bench reads the file before and after a fixed number of requests and subtracts an idle
 * baseline measured over the same time, so background work (timers, metrics) is not charged
 * to requests.
 *
 * Build: cc -shared -fPIC -O2 -o alloc_count.so bench/alloc_count.c -lpthread
 * The counting forwards to glibc's __libc_malloc & co. (no dlsym, so no recursion at start-up).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);
extern void __libc_free(void*);

static uint64_t n_malloc, n_calloc, n_realloc, n_aligned, n_free, n_bytes;

#define COUNT(var) __atomic_fetch_add(&(var), 1, __ATOMIC_RELAXED)
#define ADD(var, v) __atomic_fetch_add(&(var), (uint64_t)(v), __ATOMIC_RELAXED)
#define LOAD(var) ((unsigned long long)__atomic_load_n(&(var), __ATOMIC_RELAXED))

void* malloc(size_t size) {
  COUNT(n_malloc);
  ADD(n_bytes, size);
  return __libc_malloc(size);
}

void* calloc(size_t n, size_t size) {
  COUNT(n_calloc);
  ADD(n_bytes, n * size);
  return __libc_calloc(n, size);
}

void* realloc(void* p, size_t size) {
  COUNT(n_realloc);
  ADD(n_bytes, size);
  return __libc_realloc(p, size);
}

void free(void* p) {
  if (p != NULL) COUNT(n_free);
  __libc_free(p);
}

void* memalign(size_t align, size_t size) {
  COUNT(n_aligned);
  ADD(n_bytes, size);
  return __libc_memalign(align, size);
}

void* aligned_alloc(size_t align, size_t size) { return memalign(align, size); }

int posix_memalign(void** out, size_t align, size_t size) {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
  void* p = memalign(align, size);
  if (p == NULL && size != 0) return ENOMEM;
  *out = p;
  return 0;
}

static void* reporter(void* arg) {
  int fd = (int)(intptr_t)arg;
  const struct timespec period = {0, 50 * 1000 * 1000};
  for (;;) {
    char line[256];
    int n = snprintf(line, sizeof line, "malloc=%020llu calloc=%020llu realloc=%020llu aligned=%020llu free=%020llu bytes=%020llu\n",
                     LOAD(n_malloc), LOAD(n_calloc), LOAD(n_realloc), LOAD(n_aligned), LOAD(n_free), LOAD(n_bytes));
    if (n > 0) (void)pwrite(fd, line, (size_t)n, 0);  /* same length every time: no truncation needed */
    nanosleep(&period, NULL);
  }
  return NULL;
}

__attribute__((constructor)) static void alloc_count_init(void) {
  const char* path = getenv("ALLOC_COUNT_FILE");
  if (path == NULL || path[0] == '\0') return;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_create(&t, &attr, reporter, (void*)(intptr_t)fd);
  pthread_attr_destroy(&attr);
}
