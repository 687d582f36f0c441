// Replaces global operator new/delete for the rules test binary so tests can
// count the heap allocations a piece of code makes on the current thread.
// Kept in its own translation unit: when the replacements are visible to
// their callers, GCC's -Wmismatched-new-delete misfires on malloc/free.
#include <cstdlib>
#include <new>

namespace txv::rules::testing {
thread_local bool g_count_allocations = false;
thread_local long g_allocations = 0;
}  // namespace txv::rules::testing

void* operator new(std::size_t n) {
  if (txv::rules::testing::g_count_allocations) {
    ++txv::rules::testing::g_allocations;
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
