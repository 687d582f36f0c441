// Must compile: the control for rules_sees_store.cc (same target setup).
#include "common/text.h"
#include "rules/expression.h"
int main() { return 0; }
