// The C boundary: every exported function runs its body through guard(), which turns any exception
// into a status code plus the thread-local message, so nothing C++ ever crosses into the caller.
#pragma once

#include "core/error.h"

#include <exegpt/exegpt.h>

#include <string>

namespace exg {

void set_last_error(const std::string& message);
void clear_last_error();

template <class F>
exg_status guard(F&& body) noexcept {
    return catch_status(
        [&] {
            clear_last_error();
            body();
        },
        [](const char* message, bool internal) {
            if (!internal) set_last_error(message);
            else set_last_error(std::string("internal error: ") + (message != nullptr ? message : "unknown exception"));
        });
}

template <class T>
void require_arg(const T* p, const char* function, const char* name) {
    if (p == nullptr) fail(EXG_ERR_INVALID_ARGUMENT, function, ": ", name, " is null");
}

template <class Params>
void require_struct(const Params* p, const char* function, const char* name) {
    require_arg(p, function, name);
    if (p->struct_size != sizeof(Params))
        fail(EXG_ERR_INVALID_ARGUMENT, function, ": ", name, "->struct_size is ", p->struct_size, ", expected ",
             sizeof(Params), " (caller built against another exegpt.h)");
}

}  // namespace exg
