// Must NOT compile: the HTTP layer sits below the API layer.
#include "api/auth.h"
#include "http/router.h"
int main() { return 0; }
