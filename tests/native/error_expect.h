// What the native tests expect of calls that throw exg::Error (core/error.h), in GoogleTest terms.
#pragma once

#include "core/error.h"

#include <gtest/gtest.h>

#include <string>

namespace exg_test {

// Whether text contains part; a failure shows both.
inline testing::AssertionResult contains(const std::string& text, const std::string& part) {
    if (text.find(part) != std::string::npos) return testing::AssertionSuccess();
    return testing::AssertionFailure() << '"' << text << "\" does not contain \"" << part << '"';
}

// The Error that call throws (fails the test when it throws nothing).
template <class F>
exg::Error error_of(F&& call) {
    try {
        call();
    } catch (const exg::Error& e) {
        return e;
    }
    ADD_FAILURE() << "no exg::Error was thrown";
    return exg::Error(EXG_OK, "");
}

// Expects call to throw an Error with `status` whose message contains `needle`.
template <class F>
void expect_error(F&& call, exg_status status, const std::string& needle) {
    try {
        call();
        ADD_FAILURE() << "expected " << exg_status_name(status) << " mentioning \"" << needle << "\"";
    } catch (const exg::Error& e) {
        EXPECT_EQ(e.status(), status) << e.what();
        EXPECT_TRUE(contains(e.what(), needle));
    }
}

}  // namespace exg_test
