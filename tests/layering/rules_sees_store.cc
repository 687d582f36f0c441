// Must NOT compile: txv_rules (standard library only) does not link the store,
// so the store's headers are not visible to it (tests/layering, CMakeLists.txt).
#include "store/stores.h"
#include "rules/expression.h"
int main() { return 0; }
