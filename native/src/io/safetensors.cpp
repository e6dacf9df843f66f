#include "io/safetensors.h"

#include "core/dtype.h"
#include "core/error.h"

#include <nlohmann/json.hpp>

#include <cstring>
#include <fstream>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace exg {
namespace {

// Element sizes of every dtype the safetensors format defines; anything else is a corrupt header.
size_t element_size(const std::string& dtype) {
    static const std::map<std::string, size_t> sizes = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
        {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    auto it = sizes.find(dtype);
    return it == sizes.end() ? 0 : it->second;
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
#if !defined(_WIN32)
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(EXG_ERR_IO, "cannot open ", path, ": ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        fail(EXG_ERR_IO, "cannot stat ", path);
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ > 0) {
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
        ::close(fd);
        if (p == MAP_FAILED) fail(EXG_ERR_IO, "cannot map ", path, ": ", std::strerror(errno));
        base_ = static_cast<const uint8_t*>(p);
    } else {
        ::close(fd);
    }
#else
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(EXG_ERR_IO, "cannot open ", path);
    owned_.assign(std::istreambuf_iterator<char>(in), {});
    base_ = owned_.data();
    size_ = owned_.size();
#endif
    try {
        if (size_ < 8) fail(EXG_ERR_FORMAT, path, ": truncated safetensors file (", size_, " bytes, no header)");
        uint64_t header_len = 0;
        for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | base_[i];
        if (header_len > size_ - 8)
            fail(EXG_ERR_FORMAT, path, ": header length ", header_len, " goes beyond the end of the file (",
                 size_, " bytes)");
        nlohmann::json header;
        try {
            header = nlohmann::json::parse(base_ + 8, base_ + 8 + header_len);
        } catch (const nlohmann::json::exception& e) {
            fail(EXG_ERR_FORMAT, path, ": header is not valid JSON (", e.what(), ")");
        }
        if (!header.is_object()) fail(EXG_ERR_FORMAT, path, ": header is not a JSON object");
        const uint8_t* data = base_ + 8 + header_len;
        const size_t data_size = size_ - 8 - header_len;
        for (auto& [name, entry] : header.items()) {
            if (name == "__metadata__") continue;
            TensorInfo t;
            t.name = name;
            t.file = path;
            if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
                !entry.contains("data_offsets"))
                fail(EXG_ERR_FORMAT, path, ": tensor \"", name, "\" lacks dtype, shape or data_offsets");
            t.dtype = entry["dtype"].is_string() ? entry["dtype"].get<std::string>() : entry["dtype"].dump();
            const size_t esize = element_size(t.dtype);
            if (esize == 0) fail(EXG_ERR_FORMAT, path, ": tensor \"", name, "\" has unknown dtype \"", t.dtype, "\"");
            size_t count = 1;
            for (const auto& d : entry["shape"]) {
                if (!d.is_number_integer() || d.get<int64_t>() < 0)
                    fail(EXG_ERR_FORMAT, path, ": tensor \"", name, "\" has an invalid shape ", entry["shape"].dump());
                t.shape.push_back(d.get<int64_t>());
                count = checked_mul(count, static_cast<size_t>(d.get<int64_t>()), "tensor shape");
            }
            const auto& off = entry["data_offsets"];
            if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
                fail(EXG_ERR_FORMAT, path, ": tensor \"", name, "\" has invalid data_offsets");
            const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
            if (begin > end || end > data_size)
                fail(EXG_ERR_FORMAT, path, ": tensor \"", name, "\" data [", begin, ", ", end,
                     ") lies outside the file's data section (", data_size, " bytes; truncated file?)");
            if (end - begin != checked_mul(count, esize, "tensor size"))
                fail(EXG_ERR_FORMAT, path, ": tensor \"", name, "\" holds ", end - begin, " bytes but its shape ",
                     entry["shape"].dump(), " and dtype ", t.dtype, " need ", count * esize);
            t.data = data + begin;
            t.bytes = end - begin;
            tensors_.emplace(name, std::move(t));
        }
    } catch (...) {
#if !defined(_WIN32)
        if (base_ != nullptr) ::munmap(const_cast<uint8_t*>(base_), size_);
#endif
        throw;
    }
}

SafetensorsFile::~SafetensorsFile() {
#if !defined(_WIN32)
    if (base_ != nullptr) ::munmap(const_cast<uint8_t*>(base_), size_);
#endif
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : &it->second;
}

void copy_tensor_f32(const TensorInfo& t, int64_t row_begin, int64_t rows, int64_t col_begin, int64_t cols,
                     float* dst) {
    const int64_t total_cols = t.shape.empty() ? 1 : t.shape.back();
    const int64_t total_rows = t.shape.size() == 2 ? t.shape[0] : 1;
    require(t.shape.size() <= 2, EXG_ERR_FORMAT, t.file, ": tensor \"", t.name, "\" has ", t.shape.size(),
            " dimensions, expected 1 or 2");
    require(row_begin >= 0 && row_begin + rows <= total_rows && col_begin >= 0 && col_begin + cols <= total_cols,
            EXG_ERR_INTERNAL, "tensor window outside \"", t.name, "\"");
    for (int64_t r = 0; r < rows; ++r) {
        const size_t first = static_cast<size_t>((row_begin + r) * total_cols + col_begin);
        float* out = dst + r * cols;
        if (t.dtype == "F32") {
            std::memcpy(out, t.data + first * 4, static_cast<size_t>(cols) * 4);
        } else if (t.dtype == "F16" || t.dtype == "BF16") {
            const bool bf16 = t.dtype == "BF16";
            for (int64_t c = 0; c < cols; ++c) {
                uint16_t h;
                std::memcpy(&h, t.data + (first + static_cast<size_t>(c)) * 2, 2);
                out[c] = bf16 ? bf16_to_f32(h) : f16_to_f32(h);
            }
        } else {
            fail(EXG_ERR_FORMAT, t.file, ": tensor \"", t.name, "\" has dtype ", t.dtype,
                 "; supported dtypes are F32, F16 and BF16");
        }
    }
}

void write_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors, exg_dtype dtype) {
    nlohmann::ordered_json header;
    header["__metadata__"] = {{"format", "pt"}, {"producer", "exegpt"}};
    uint64_t offset = 0;
    for (const auto& t : tensors) {
        size_t count = 1;
        for (auto d : t.shape) count *= static_cast<size_t>(d);
        const uint64_t bytes = count * dtype_size(dtype);
        header[t.name] = {{"dtype", dtype_safetensors_name(dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // align the data section to 8 bytes, as the format recommends
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) fail(EXG_ERR_IO, "cannot create ", path);
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(static_cast<uint64_t>(text.size()) >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    std::vector<uint8_t> buf;
    for (const auto& t : tensors) {
        size_t count = 1;
        for (auto d : t.shape) count *= static_cast<size_t>(d);
        if (dtype == EXG_DTYPE_F32) {
            out.write(reinterpret_cast<const char*>(t.data), static_cast<std::streamsize>(count * 4));
            continue;
        }
        buf.resize(count * 2);
        for (size_t i = 0; i < count; ++i) {
            const uint16_t h = dtype == EXG_DTYPE_F16 ? f32_to_f16(t.data[i]) : f32_to_bf16(t.data[i]);
            std::memcpy(buf.data() + 2 * i, &h, 2);
        }
        out.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
    }
    if (!out) fail(EXG_ERR_IO, "failed writing ", path);
}

}  // namespace exg
