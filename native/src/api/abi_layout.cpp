// Struct sizes and field offsets as this compiler lays them out, from the generated table, so the
// bindings' tests can compare them with the managed declarations.
#include "api/guard.h"

#include <cstddef>
#include <cstring>

namespace {

struct FieldEntry {
    const char* struct_name;
    const char* field;  // null: the struct itself
    uint64_t value;     // offset, or size for the struct entry
};

#define EXG_ABI_STRUCT(s) {#s, nullptr, sizeof(s)},
#define EXG_ABI_FIELD(s, f) {#s, #f, offsetof(s, f)},
const FieldEntry kTable[] = {
#include "api/abi_layout.g.inc"
};
#undef EXG_ABI_STRUCT
#undef EXG_ABI_FIELD

}  // namespace

using namespace exg;

extern "C" {

EXG_API exg_status exg_abi_struct_size(const char* struct_name, uint64_t* size_out) {
    return guard([&] {
        require_arg(struct_name, "exg_abi_struct_size", "struct_name");
        require_arg(size_out, "exg_abi_struct_size", "size_out");
        for (const auto& e : kTable) {
            if (e.field == nullptr && std::strcmp(e.struct_name, struct_name) == 0) {
                *size_out = e.value;
                return;
            }
        }
        fail(EXG_ERR_INVALID_ARGUMENT, "exg_abi_struct_size: unknown struct \"", struct_name, "\"");
    });
}

EXG_API exg_status exg_abi_field_offset(const char* struct_name, const char* field_name, uint64_t* offset_out) {
    return guard([&] {
        require_arg(struct_name, "exg_abi_field_offset", "struct_name");
        require_arg(field_name, "exg_abi_field_offset", "field_name");
        require_arg(offset_out, "exg_abi_field_offset", "offset_out");
        for (const auto& e : kTable) {
            if (e.field != nullptr && std::strcmp(e.struct_name, struct_name) == 0 && std::strcmp(e.field, field_name) == 0) {
                *offset_out = e.value;
                return;
            }
        }
        fail(EXG_ERR_INVALID_ARGUMENT, "exg_abi_field_offset: unknown field \"", struct_name, ".", field_name, "\"");
    });
}

}  // extern "C"
