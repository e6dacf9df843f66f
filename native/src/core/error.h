// Errors inside the engine are exceptions carrying an exg_status; the C boundary (api/guard.h)
// turns them into a status code plus a thread-local message.
#pragma once

#include <exegpt/exegpt.h>

#include <sstream>
#include <stdexcept>
#include <string>

namespace exg {

class Error : public std::runtime_error {
public:
    Error(exg_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
    exg_status status() const noexcept { return status_; }

private:
    exg_status status_;
};

// Builds a message from any streamable pieces: fail(EXG_ERR_FORMAT, "tensor ", name, " has ", n, " dims").
template <class... Parts>
[[noreturn]] void fail(exg_status status, const Parts&... parts) {
    std::ostringstream os;
    (os << ... << parts);
    throw Error(status, os.str());
}

template <class... Parts>
void require(bool condition, exg_status status, const Parts&... parts) {
    if (!condition) fail(status, parts...);
}

// Size arithmetic on user-controlled numbers must not wrap silently.
size_t checked_mul(size_t a, size_t b, const char* what);

}  // namespace exg
