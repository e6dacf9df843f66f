#include "kernel_bench.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

namespace exg::gpubench {
namespace {

using nlohmann::ordered_json;

constexpr size_t kL2DefeatBytes = size_t{256} << 20;  // > 4 x the H100/H200 L2 (50/60 MB)

size_t bytes_of(const Backend& b, int64_t elements) { return static_cast<size_t>(elements) * b.element_size(); }

// True (with a JSON row saying why) when `bytes` more would not fit in 80% of the free device memory.
bool too_big(const Backend& b, size_t bytes, ordered_json& row) {
    const size_t available = b.available_memory();
    if (available == 0 || bytes <= available / 10 * 8) return false;
    row["skipped"] = "needs " + std::to_string(bytes >> 20) + " MiB, " + std::to_string(available >> 20) + " MiB free";
    return true;
}

// A ragged batch over qkv rows (q, k, v of `heads` x d each) and caches of `positions` per (slot, head); the
// caller sets k_cache/v_cache (and decode).
AttentionParams attention_params(int32_t batch, const std::vector<int32_t>& slot, const std::vector<int32_t>& q_start,
                                 const std::vector<int32_t>& len, const std::vector<int32_t>& past, const Buffer& qkv,
                                 const Buffer& out, int64_t heads, int64_t d, int64_t positions) {
    AttentionParams p{};
    p.num_seqs = batch;
    p.slot = slot.data();
    p.q_start = q_start.data();
    p.len = len.data();
    p.past = past.data();
    p.qkv = qkv.data();
    p.qkv_stride = 3 * heads * d;
    p.out = out.data();
    p.out_stride = heads * d;
    p.slot_stride = heads * positions * d;
    p.head_stride = positions * d;
    p.num_heads = static_cast<int32_t>(heads);
    p.head_dim = static_cast<int32_t>(d);
    p.scale = 1.0f / std::sqrt(static_cast<float>(d));
    return p;
}

ordered_json timing_json(const Timing& t) {
    return {{"median_ms", t.seconds * 1e3}, {"inner", t.inner}, {"samples", t.samples}};
}

}  // namespace

ordered_json bench_copy(Backend& backend, const Options& o) {
    const size_t copy_bytes = o.copy_bytes;
    Buffer src(&backend, copy_bytes), dst(&backend, copy_bytes);
    fill_random(backend, src.data(), static_cast<int64_t>(copy_bytes / backend.element_size()), 11);
    const Timing t = time_calls(backend, [&](int64_t) { backend.copy(dst.data(), src.data(), copy_bytes); }, o.samples);
    ordered_json row = timing_json(t);
    row["bytes"] = copy_bytes;
    row["gbps"] = 2.0 * copy_bytes / t.seconds / 1e9;
    std::printf("  copy %zu MiB: %.3f ms, %.1f GB/s (read + write)\n", copy_bytes >> 20, t.seconds * 1e3,
                row["gbps"].get<double>());
    return row;
}

ordered_json bench_prefill_attention(Backend& backend, const Options& o) {
    ordered_json rows = ordered_json::array();
    const int64_t heads = o.prefill_heads, d = o.head_dim, width = heads * d;
    for (const int length : o.prefill_lengths) {
        const int32_t batch = std::max(1, o.prefill_tokens / length);
        // Causal and bidirectional over a fresh sequence (the SDPA peer's two cases), and causal over a
        // cached prefix as long again (chunked prefill).
        for (const auto& [past, causal] : {std::pair<int32_t, int32_t>{0, 1}, {0, 0}, {length, 1}}) {
            ordered_json row;
            row["batch"] = batch;
            row["length"] = length;
            row["past"] = past;
            row["causal"] = causal != 0;
            row["heads"] = heads;
            row["head_dim"] = d;
            const int64_t tokens = int64_t{batch} * length, positions = int64_t{past} + length;
            const int64_t cache = int64_t{batch} * heads * positions * d;
            if (too_big(backend, bytes_of(backend, tokens * 4 * width + 2 * cache), row)) {
                rows.push_back(row);
                continue;
            }
            Buffer qkv(&backend, bytes_of(backend, tokens * 3 * width));
            Buffer out(&backend, bytes_of(backend, tokens * width));
            Buffer k_cache(&backend, bytes_of(backend, cache)), v_cache(&backend, bytes_of(backend, cache));
            fill_random(backend, qkv.data(), tokens * 3 * width, 1);
            fill_random(backend, k_cache.data(), cache, 2);  // the prefix a past > 0 row attends to
            fill_random(backend, v_cache.data(), cache, 3);
            std::vector<int32_t> slot(batch), q_start(batch), len(batch, length), past_of(batch, past);
            for (int32_t s = 0; s < batch; ++s) {
                slot[s] = s;
                q_start[s] = s * length;
            }
            AttentionParams p = attention_params(batch, slot, q_start, len, past_of, qkv, out, heads, d, positions);
            p.k_cache = k_cache.data();
            p.v_cache = v_cache.data();
            p.causal = causal;
            const Timing t = time_calls(backend, [&](int64_t) { backend.attention(p); }, o.samples);
            // Pairs attended per head: length x past, plus the new square (half of it when causal, as SDPA
            // benchmarks count it).
            const double pairs = static_cast<double>(length) * past + (causal ? 0.5 : 1.0) * static_cast<double>(length) * length;
            const double flops = 4.0 * d * heads * batch * pairs;
            row.update(timing_json(t));
            row["tflops"] = flops / t.seconds / 1e12;
            std::printf("  prefill attention batch %3d x %5d tokens, past %5d, %s: %8.3f ms %7.1f TFLOP/s\n", batch,
                        length, past, causal ? "causal" : "bidirectional", t.seconds * 1e3, row["tflops"].get<double>());
            rows.push_back(row);
        }
    }
    return rows;
}

ordered_json bench_decode_attention(Backend& backend, const Options& o) {
    ordered_json rows = ordered_json::array();
    const int64_t heads = o.decode_heads, d = o.head_dim, width = heads * d;
    for (const int context : o.decode_contexts)
        for (const int batch : o.decode_batches) {
            ordered_json row;
            row["batch"] = batch;
            row["context"] = context;
            row["heads"] = heads;
            row["head_dim"] = d;
            const int64_t cache = int64_t{batch} * heads * context * d;
            const size_t kv_bytes = bytes_of(backend, 2 * cache);
            const int copies = static_cast<int>(std::clamp<size_t>((kL2DefeatBytes + kv_bytes - 1) / kv_bytes, 1, 64));
            row["cache_copies"] = copies;
            if (too_big(backend, copies * kv_bytes + bytes_of(backend, int64_t{batch} * 4 * width), row)) {
                rows.push_back(row);
                continue;
            }
            Buffer qkv(&backend, bytes_of(backend, int64_t{batch} * 3 * width));
            Buffer out(&backend, bytes_of(backend, int64_t{batch} * width));
            fill_random(backend, qkv.data(), int64_t{batch} * 3 * width, 4);
            std::vector<Buffer> k_caches, v_caches;
            for (int c = 0; c < copies; ++c) {
                k_caches.emplace_back(&backend, bytes_of(backend, cache));
                v_caches.emplace_back(&backend, bytes_of(backend, cache));
                fill_random(backend, k_caches.back().data(), cache, 5);
                fill_random(backend, v_caches.back().data(), cache, 6);
            }
            std::vector<int32_t> slot(batch), q_start(batch), len(batch, 1), past(batch, context - 1);
            for (int32_t s = 0; s < batch; ++s) slot[s] = q_start[s] = s;
            AttentionParams p = attention_params(batch, slot, q_start, len, past, qkv, out, heads, d, context);
            p.decode = 1;
            const Timing t = time_calls(
                backend,
                [&](int64_t call) {
                    p.k_cache = k_caches[static_cast<size_t>(call % copies)].data();
                    p.v_cache = v_caches[static_cast<size_t>(call % copies)].data();
                    backend.attention(p);
                },
                o.samples);
            // K and V over the whole context (the appended position included), q in, out.
            const int64_t elements = int64_t{batch} * width * (2 * int64_t{context} + 2);
            const double bytes = static_cast<double>(bytes_of(backend, elements));
            row.update(timing_json(t));
            row["bytes"] = bytes;
            row["gbps"] = bytes / t.seconds / 1e9;
            std::printf("  decode attention batch %3d, context %5d: %8.3f ms %8.1f GB/s\n", batch, context,
                        t.seconds * 1e3, row["gbps"].get<double>());
            rows.push_back(row);
        }
    return rows;
}

ordered_json bench_gemm(Backend& backend, const Options& o) {
    ordered_json rows = ordered_json::array();
    struct Layer {
        const char* name;
        int64_t n, k;
    };
    const Layer layers[] = {{"fc1", o.ffn, o.hidden}, {"fc2", o.hidden, o.ffn}};
    for (const auto& layer : layers) {
        Buffer w(&backend, bytes_of(backend, layer.n * layer.k)), bias(&backend, bytes_of(backend, layer.n));
        fill_random(backend, w.data(), layer.n * layer.k, 7, 0.02f);  // the weights' init scale: no overflow in bf16
        fill_random(backend, bias.data(), layer.n, 8, 0.02f);
        for (const int m : o.gemm_m) {
            ordered_json base;
            base["layer"] = layer.name;
            base["m"] = m;
            base["n"] = layer.n;
            base["k"] = layer.k;
            if (too_big(backend, bytes_of(backend, int64_t{m} * (layer.k + layer.n)), base)) {
                rows.push_back(base);
                continue;
            }
            Buffer a(&backend, bytes_of(backend, m * layer.k)), out(&backend, bytes_of(backend, m * layer.n));
            fill_random(backend, a.data(), m * layer.k, 9);
            for (const bool epilogue : {false, true}) {
                GemmParams p{};
                p.m = m;
                p.n = layer.n;
                p.k = layer.k;
                p.a = a.data();
                p.lda = layer.k;
                p.w = w.data();
                p.ldw = layer.k;
                p.bias = epilogue ? bias.data() : nullptr;
                p.out = out.data();
                p.ldo = layer.n;
                p.activation = epilogue ? int32_t{EXG_ACT_RELU} : -1;
                const Timing t = time_calls(backend, [&](int64_t) { backend.gemm(p); }, o.samples);
                ordered_json row = base;
                row["epilogue"] = epilogue ? "bias_relu" : "none";
                row.update(timing_json(t));
                row["tflops"] = 2.0 * m * layer.n * layer.k / t.seconds / 1e12;
                std::printf("  gemm %s m=%5d %-9s: %8.3f ms %7.1f TFLOP/s\n", layer.name, m,
                            epilogue ? "bias+relu" : "plain", t.seconds * 1e3, row["tflops"].get<double>());
                rows.push_back(row);
            }
        }
    }
    return rows;
}

}  // namespace exg::gpubench
