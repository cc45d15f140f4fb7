// ldns, included safely from C++: without __bool_true_false_are_defined its common.h defines
// `bool`, `true` and `false` as macros, which breaks later standard headers (<optional>).
// GCC's <stdbool.h> defines that marker in C++ and nothing else.
#pragma once
#include <ldns/ldns.h>
#include <stdbool.h>  // NOLINT(modernize-deprecated-headers)
