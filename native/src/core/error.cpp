#include "core/error.h"

#include <limits>

namespace exg {

size_t checked_mul(size_t a, size_t b, const char* what) {
    if (a != 0 && b > std::numeric_limits<size_t>::max() / a) fail(EXG_ERR_INVALID_ARGUMENT, what, " is too large");
    return a * b;
}

}  // namespace exg
