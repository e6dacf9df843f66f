// Safetensors reading/writing, including every malformed-file case the loader must reject clearly.
#include "core/error.h"
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("exg_st_" + std::to_string(::getpid()) + "_" + name)).string();
}

void write_raw(const std::string& path, const std::string& header, const std::string& data, uint64_t header_len_override = 0) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    const uint64_t len = header_len_override ? header_len_override : header.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((len >> (8 * i)) & 0xff));
    out << header << data;
}

exg_status open_status(const std::string& path, std::string* message = nullptr) {
    try {
        exg::SafetensorsFile f(path);
        return EXG_OK;
    } catch (const exg::Error& e) {
        if (message) *message = e.what();
        return e.status();
    }
}

TEST(Safetensors, RoundTripAllDtypes) {
    const std::vector<float> values = {1.0f, -2.5f, 0.333333f, 1024.0f, -0.0001f, 7.0f};
    for (exg_dtype dtype : {EXG_DTYPE_F32, EXG_DTYPE_F16, EXG_DTYPE_BF16}) {
        const auto path = temp_path("rt.safetensors");
        exg::write_safetensors(path, {{"a", {2, 3}, values.data()}, {"b", {3}, values.data() + 3}}, dtype);
        exg::SafetensorsFile f(path);
        ASSERT_NE(f.find("a"), nullptr);
        EXPECT_EQ(f.find("a")->shape, (std::vector<int64_t>{2, 3}));
        float window[2];
        exg::copy_tensor_f32(*f.find("a"), 1, 1, 1, 2, window);  // row 1, cols 1..2
        const float tol = dtype == EXG_DTYPE_F32 ? 0.0f : dtype == EXG_DTYPE_F16 ? 1e-3f : 1e-2f;
        EXPECT_NEAR(window[0], values[4], std::abs(values[4]) * tol + 1e-7f);
        EXPECT_NEAR(window[1], values[5], std::abs(values[5]) * tol);
        std::remove(path.c_str());
    }
}

TEST(Safetensors, RejectsMalformedFiles) {
    const auto path = temp_path("bad.safetensors");
    std::string msg;

    std::ofstream(path, std::ios::binary) << "abc";
    EXPECT_EQ(open_status(path, &msg), EXG_ERR_FORMAT);
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;

    write_raw(path, "{}", "", 1000);
    EXPECT_EQ(open_status(path, &msg), EXG_ERR_FORMAT);
    EXPECT_NE(msg.find("beyond the end"), std::string::npos) << msg;

    write_raw(path, "{not json", "");
    EXPECT_EQ(open_status(path, &msg), EXG_ERR_FORMAT);

    write_raw(path, R"({"w":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", std::string(8, '\0'));
    EXPECT_EQ(open_status(path, &msg), EXG_ERR_FORMAT);
    EXPECT_NE(msg.find("unknown dtype"), std::string::npos) << msg;

    write_raw(path, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(8, '\0'));
    EXPECT_EQ(open_status(path, &msg), EXG_ERR_FORMAT);
    EXPECT_NE(msg.find("outside"), std::string::npos) << msg;

    write_raw(path, R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'));
    EXPECT_EQ(open_status(path, &msg), EXG_ERR_FORMAT);
    EXPECT_NE(msg.find("need"), std::string::npos) << msg;

    EXPECT_EQ(open_status(temp_path("does-not-exist")), EXG_ERR_IO);
    std::remove(path.c_str());
}

TEST(Safetensors, UnsupportedDtypeFailsOnRead) {
    const auto path = temp_path("f64.safetensors");
    write_raw(path, R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0'));
    exg::SafetensorsFile f(path);
    float out;
    try {
        exg::copy_tensor_f32(*f.find("w"), 0, 1, 0, 1, &out);
        FAIL();
    } catch (const exg::Error& e) {
        EXPECT_EQ(e.status(), EXG_ERR_FORMAT);
        EXPECT_NE(std::string(e.what()).find("F64"), std::string::npos);
    }
    std::remove(path.c_str());
}

}  // namespace
