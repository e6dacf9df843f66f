// Errors inside the engine are exceptions carrying an exg_status; the C boundaries (api/guard.h for
// libexegpt, backend/cuda/exports.cpp for libexegpt_cuda) turn them into a status code plus a message
// through one catch ladder, catch_status.
#pragma once

#include <exegpt/exegpt.h>

#include <exception>
#include <new>
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

// Runs body and returns EXG_OK, or hands its exception to report(message, internal) and returns the status
// it maps to: an Error's own status and text; bad_alloc as EXG_ERR_OUT_OF_MEMORY, "out of host memory";
// anything else as EXG_ERR_INTERNAL with internal = true and the message what() of a std::exception, null
// for the rest. The boundaries differ only in where the text goes and how an internal one is worded.
template <class Body, class Report>
exg_status catch_status(Body&& body, Report&& report) noexcept {
    try {
        body();
        return EXG_OK;
    } catch (const Error& e) {
        report(e.what(), false);
        return e.status();
    } catch (const std::bad_alloc&) {
        report("out of host memory", false);
        return EXG_ERR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        report(e.what(), true);
        return EXG_ERR_INTERNAL;
    } catch (...) {
        report(nullptr, true);
        return EXG_ERR_INTERNAL;
    }
}

}  // namespace exg
