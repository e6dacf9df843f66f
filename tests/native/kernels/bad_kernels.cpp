// Broken kernel plug-ins, one per way a library can fail the engine's load checks (BAD_KERNELS_MODE):
// 0 no exg_kernels_get, 1 a NULL table, 2 another ABI version, 3 no op, 4 no name.
#include <exegpt/exegpt_kernels.h>

namespace {

[[maybe_unused]] int32_t noop_attention(const exg_attention_params*, char*, size_t) { return 0; }

[[maybe_unused]] const exg_kernel_table kTable = {
    sizeof(exg_kernel_table),
    BAD_KERNELS_MODE == 2 ? EXG_KERNEL_ABI_VERSION + 1 : EXG_KERNEL_ABI_VERSION,
    BAD_KERNELS_MODE == 4 ? "" : "bad",
    BAD_KERNELS_MODE == 3 ? nullptr : noop_attention,
    nullptr,
};

}  // namespace

extern "C" {
#if BAD_KERNELS_MODE == 0
EXG_KERNEL_EXPORT int32_t exg_not_a_kernel_library(void) { return 0; }
#else
EXG_KERNEL_EXPORT const exg_kernel_table* exg_kernels_get(uint32_t) { return BAD_KERNELS_MODE == 1 ? nullptr : &kTable; }
#endif
}
