// e2e_parity: end-to-end greedy parity of the CUDA backend with the CPU backend on small random models,
// through libexegpt's C ABI only (no GoogleTest: it runs on the GPU machine as well as here, where every
// CUDA case is reported as skipped with the reason).
//
//   e2e_parity [--target cuda|cpu] [--dtype bf16|f16|all] [--steps N] [--filter SUBSTRING] [--device N]
//
// For each model (the tiny presets widened to the head dims the CUDA kernels serve) and storage dtype:
//  - single device: prefill a ragged batch (lengths 1 .. past a 128-row tile), then decode `steps` steps
//    teacher-forced by the CPU's greedy tokens; halfway one sequence finishes early and both caches are
//    compacted. At every step each row's logits must agree within the tolerance, and the target's argmax
//    must equal the CPU's unless the CPU's top-2 margin is within twice the tolerance (a near tie:
//    counted, not failed); the target's own device-side greedy sampling (exg_model_sample) must pick
//    exactly the argmax of its logits;
//  - tensor parallel 2: the same, CPU ranks joined by the host group against CUDA ranks on devices 0 and
//    1 joined by NCCL (skipped with the reason without two GPUs or NCCL);
//  - KV hand-off: the target's cache exported after a few steps and imported into a second model
//    instance on the target continues exactly like the original (tokens equal, logits within the
//    tolerance; whether they are bit-identical is reported).
// Both sides load one checkpoint saved in the target's storage dtype, so they hold identical weights and
// the comparison measures the arithmetic. --target cpu runs everything CPU against CPU (an F32
// checkpoint): the program's own check where no GPU is present.
// Prints one line per case and "N passed, N failed, N skipped"; exit status 1 when any case failed.
#include <exegpt/exegpt.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#if !defined(_WIN32)
#include <unistd.h>
#endif

namespace {

// A case that cannot run on this machine (no device, no NCCL): reported as skipped with the reason.
struct Skip : std::runtime_error {
    using std::runtime_error::runtime_error;
};

void check(exg_status status, const std::string& what) {
    if (status != EXG_OK) throw std::runtime_error(what + ": " + exg_status_name(status) + ": " + exg_last_error_message());
}

const char* dtype_name(int32_t d) { return d == EXG_DTYPE_F32 ? "f32" : d == EXG_DTYPE_F16 ? "f16" : "bf16"; }

// Tolerance on each row's max |target - cpu| / max |cpu| of the logits: 8 unit roundoffs of the storage
// dtype (bf16 3.1e-2, f16 3.9e-3). The weights are identical (one checkpoint in that dtype), so the
// error comes from the activations the target stores rounded: two layers of ~8 stored intermediates
// each plus the embeddings and the final norm, ~20 roundings of at most u/2 relative, independent, so
// ~sqrt(20) * u/2 ~ 2.2u in a row's worst logit, and 8u leaves room for the attention probabilities and
// GEMM epilogues rounded on the way. F32 (CPU against CPU): the two sides run the same code; 1e-5.
double tolerance(int32_t dtype) {
    if (dtype == EXG_DTYPE_BF16) return 8 * std::ldexp(1.0, -8);
    if (dtype == EXG_DTYPE_F16) return 8 * std::ldexp(1.0, -11);
    return 1e-5;
}

struct Backend {
    exg_backend* handle = nullptr;
    Backend() = default;
    Backend(int32_t kind, int32_t device, int32_t dtype) {
        exg_backend_params p{sizeof(exg_backend_params), kind, device, kind == EXG_BACKEND_CPU ? 2 : 0, dtype};
        check(exg_backend_create(&p, &handle), std::string("create the ") + (kind == EXG_BACKEND_CPU ? "cpu" : "cuda") +
                                                   " backend (device " + std::to_string(device) + ")");
    }
    ~Backend() { exg_backend_free(handle); }
    Backend(const Backend&) = delete;
    Backend& operator=(const Backend&) = delete;
};

// A checkpoint directory removed on destruction.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& name) {
#if !defined(_WIN32)
        const long pid = static_cast<long>(getpid());
#else
        const long pid = 0;
#endif
        path = std::filesystem::temp_directory_path() / ("exegpt-e2e-" + std::to_string(pid) + "-" + name);
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

// One pipeline stage covering the whole model, at tensor-parallel degree ranks.size(): every rank's
// model and cache; steps run the ranks on threads of their own (their collectives meet).
class Replica {
public:
    static constexpr int32_t kMaxSlots = 6;
    static constexpr int32_t kMaxSeq = 192;

    // comms: one per rank when tp > 1 (owned from here on).
    Replica(const std::vector<exg_backend*>& backends, std::vector<exg_comm*> comms, const exg_model_config& config,
            const std::string& checkpoint)
        : comms_(std::move(comms)), vocab_(config.vocab_size) {
        const int32_t tp = static_cast<int32_t>(backends.size());
        models_.assign(backends.size(), nullptr);
        caches_.assign(backends.size(), nullptr);
        each_rank([&](size_t r) {
            exg_model_params mp{};
            mp.struct_size = sizeof mp;
            mp.config = config;
            mp.checkpoint_dir = checkpoint.c_str();
            mp.layer_begin = 0;
            mp.layer_end = config.num_layers;
            mp.tp_rank = static_cast<int32_t>(r);
            mp.tp_size = tp;
            mp.comm = tp > 1 ? comms_[r] : nullptr;
            check(exg_model_create(backends[r], &mp, &models_[r]), "create the model (rank " + std::to_string(r) + ")");
            exg_kv_cache_params kp{sizeof(exg_kv_cache_params), kMaxSlots, kMaxSeq};
            check(exg_kv_cache_create(models_[r], &kp, &caches_[r]), "create the kv cache");
        });
    }
    ~Replica() {
        for (auto* c : caches_) exg_kv_cache_free(c);
        for (auto* m : models_) exg_model_free(m);
        for (auto* c : comms_) exg_comm_free(c);
    }
    Replica(const Replica&) = delete;
    Replica& operator=(const Replica&) = delete;

    int32_t vocab() const { return vocab_; }

    std::vector<int32_t> alloc_slots(size_t n) {
        std::vector<std::vector<int32_t>> slots(models_.size());
        for (size_t r = 0; r < models_.size(); ++r)
            for (size_t i = 0; i < n; ++i) {
                int32_t s = -1;
                check(exg_kv_cache_alloc_slot(caches_[r], &s), "allocate a kv slot");
                slots[r].push_back(s);
            }
        return slots[0];
    }

    // One step over the batch; the logits of rank 0 ([num_seqs x vocab]).
    std::vector<float> step(bool decode, const std::vector<int32_t>& slots, const std::vector<int32_t>& lens,
                            const std::vector<int32_t>& tokens) {
        std::vector<std::vector<float>> logits(models_.size(), std::vector<float>(slots.size() * static_cast<size_t>(vocab_)));
        each_rank([&](size_t r) {
            exg_batch b{};
            b.struct_size = sizeof b;
            b.num_seqs = static_cast<int32_t>(slots.size());
            b.slots = slots.data();
            b.seq_lens = lens.data();
            b.token_ids = tokens.data();
            b.logits_out = logits[r].data();
            check(decode ? exg_model_decode(models_[r], caches_[r], &b) : exg_model_prefill(models_[r], caches_[r], &b),
                  decode ? "decode" : "prefill");
        });
        return logits[0];
    }

    // Greedy tokens of the last step, chosen on the backend from the logits it kept.
    std::vector<int32_t> sample_greedy(size_t rows) {
        exg_sampling_params p{};
        p.struct_size = sizeof p;
        p.greedy = 1;
        std::vector<int32_t> tokens(rows, -1);
        check(exg_model_sample(models_[0], &p, nullptr, tokens.data()), "exg_model_sample");
        return tokens;
    }

    void free_slot(int32_t slot) {
        for (auto* c : caches_) check(exg_kv_cache_free_slot(c, slot), "free a kv slot");
    }
    // new_slot_of[old slot] after moving the live slots down (every rank moves the same way).
    std::vector<int32_t> compact() {
        std::vector<int32_t> first;
        for (auto* c : caches_) {
            std::vector<int32_t> map(kMaxSlots, -1);
            int32_t live = 0;
            check(exg_kv_cache_compact(c, map.data(), kMaxSlots, &live), "compact the kv cache");
            if (first.empty()) first = map;
            else if (map != first) throw std::runtime_error("tensor-parallel ranks compacted their caches differently");
        }
        return first;
    }

    // Each rank's blob of one slot, and the reverse.
    std::vector<std::vector<uint8_t>> export_slot(int32_t slot) {
        std::vector<std::vector<uint8_t>> blobs;
        for (auto* c : caches_) {
            uint64_t size = 0, written = 0;
            check(exg_kv_cache_export_size(c, slot, &size), "kv export size");
            blobs.emplace_back(size);
            check(exg_kv_cache_export(c, slot, blobs.back().data(), size, &written), "kv export");
            if (written != size) throw std::runtime_error("kv export wrote " + std::to_string(written) + " of " + std::to_string(size) + " bytes");
        }
        return blobs;
    }
    void import_slot(int32_t slot, const std::vector<std::vector<uint8_t>>& blobs) {
        for (size_t r = 0; r < caches_.size(); ++r)
            check(exg_kv_cache_import(caches_[r], slot, blobs[r].data(), blobs[r].size()), "kv import");
    }
    int32_t seq_len(int32_t slot) const {
        int32_t len = -1;
        check(exg_kv_cache_seq_len(caches_[0], slot, &len), "kv seq_len");
        return len;
    }

private:
    // Runs f(rank) for every rank: inline for one, on one thread per rank otherwise (a collective
    // needs every rank inside it). The first failure is rethrown after all ranks returned; the
    // communicators' timeouts guarantee they do.
    void each_rank(const std::function<void(size_t)>& f) {
        if (models_.size() == 1) return f(0);
        std::vector<std::exception_ptr> errors(models_.size());
        std::vector<std::thread> threads;
        for (size_t r = 0; r < models_.size(); ++r)
            threads.emplace_back([&, r] {
                try {
                    f(r);
                } catch (...) {
                    errors[r] = std::current_exception();
                }
            });
        for (auto& t : threads) t.join();
        for (auto& e : errors)
            if (e) std::rethrow_exception(e);
    }

    std::vector<exg_comm*> comms_;
    std::vector<exg_model*> models_;
    std::vector<exg_kv_cache*> caches_;
    int32_t vocab_;
};

int32_t argmax(const float* row, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; ++i)
        if (row[i] > row[best]) best = i;
    return best;
}

// What a run of steps measured: the worst row error, argmax agreement, device sampling agreement.
struct Tally {
    double worst = 0;
    int steps = 0, near_ties = 0, argmax_mismatches = 0, sampling_mismatches = 0;
    bool identical = true;  // every logit bit-identical
    std::string first_problem;

    void note(const std::string& problem) {
        if (first_problem.empty()) first_problem = problem;
    }
    bool ok(double tol) const { return worst <= tol && argmax_mismatches == 0 && sampling_mismatches == 0; }
    std::string describe(double tol) const {
        char line[256];
        std::snprintf(line, sizeof line, "%d steps, worst logits err/scale %.2e (tolerance %.2e), %d near ties%s", steps, worst, tol,
                      near_ties, identical ? ", bit-identical" : "");
        std::string s = line;
        if (argmax_mismatches) s += ", " + std::to_string(argmax_mismatches) + " argmax mismatches";
        if (sampling_mismatches) s += ", " + std::to_string(sampling_mismatches) + " device-sampling mismatches";
        if (!first_problem.empty()) s += "; first: " + first_problem;
        return s;
    }
    // A case's result: the description, thrown as the failure unless every step stayed within tol.
    std::string verdict(double tol) const {
        if (!ok(tol)) throw std::runtime_error(describe(tol));
        return describe(tol);
    }
};

// Compares one step's logits row by row (want: the reference side) and returns want's greedy tokens.
std::vector<int32_t> compare_step(const std::vector<float>& want, const std::vector<float>& got, int32_t vocab, double tol,
                                  const std::string& where, Tally& t) {
    ++t.steps;
    const size_t rows = want.size() / static_cast<size_t>(vocab);
    std::vector<int32_t> tokens;
    for (size_t r = 0; r < rows; ++r) {
        const float* w = want.data() + r * static_cast<size_t>(vocab);
        const float* g = got.data() + r * static_cast<size_t>(vocab);
        double scale = 0, err = 0;
        for (int32_t i = 0; i < vocab; ++i) {
            scale = std::max(scale, static_cast<double>(std::fabs(w[i])));
            const double e = std::fabs(static_cast<double>(g[i]) - w[i]);
            err = std::isnan(e) ? INFINITY : std::max(err, e);
            t.identical = t.identical && g[i] == w[i];
        }
        const double evs = err / std::max(scale, 1e-30);
        if (evs > tol) t.note(where + " row " + std::to_string(r) + ": logits err/scale " + std::to_string(evs));
        t.worst = std::max(t.worst, evs);
        const int32_t top = argmax(w, vocab), mine = argmax(g, vocab);
        tokens.push_back(top);
        if (top == mine) continue;
        double second = -INFINITY;
        for (int32_t i = 0; i < vocab; ++i)
            if (i != top) second = std::max(second, static_cast<double>(w[i]));
        // Each of the two logits may move by tol * scale: a margin within twice that is a near tie.
        if (w[top] - second <= 2 * tol * scale) {
            ++t.near_ties;
        } else {
            ++t.argmax_mismatches;
            t.note(where + " row " + std::to_string(r) + ": argmax " + std::to_string(mine) + " instead of " + std::to_string(top));
        }
    }
    return tokens;
}

// The ragged prompt batch: lengths 1 .. past a 128-row attention tile, seeded tokens.
struct Prompt {
    std::vector<int32_t> lens, tokens;
};

Prompt make_prompt(int32_t vocab, uint32_t seed) {
    Prompt p;
    p.lens = {1, 13, 64, 130};
    std::mt19937 rng(seed);
    for (int32_t len : p.lens)
        for (int32_t i = 0; i < len; ++i) p.tokens.push_back(static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab)));
    return p;
}

// Prefill then `steps` decode steps on both replicas, teacher-forced by want's greedy tokens; halfway
// the second sequence finishes and both caches are compacted. check_sampling: the target's
// device-side greedy tokens must equal the argmax of its logits.
Tally run_greedy(Replica& want, Replica& got, const Prompt& prompt, int steps, double tol, bool check_sampling) {
    Tally t;
    const int32_t vocab = want.vocab();
    auto slots = want.alloc_slots(prompt.lens.size());
    if (got.alloc_slots(prompt.lens.size()) != slots) throw std::runtime_error("the two sides allocated different kv slots");
    auto sampled = [&](const std::vector<float>& logits, const std::string& where) {
        if (!check_sampling) return;
        const auto device = got.sample_greedy(slots.size());
        for (size_t r = 0; r < slots.size(); ++r) {
            const int32_t host = argmax(logits.data() + r * static_cast<size_t>(vocab), vocab);
            if (device[r] != host) {
                ++t.sampling_mismatches;
                t.note(where + " row " + std::to_string(r) + ": exg_model_sample chose " + std::to_string(device[r]) +
                       ", the argmax of the same logits is " + std::to_string(host));
            }
        }
    };
    auto w = want.step(false, slots, prompt.lens, prompt.tokens);
    auto g = got.step(false, slots, prompt.lens, prompt.tokens);
    auto next = compare_step(w, g, vocab, tol, "prefill", t);
    sampled(g, "prefill");
    for (int s = 1; s <= steps; ++s) {
        if (s == steps / 2 + 1 && slots.size() > 1) {  // the second sequence finishes early
            want.free_slot(slots[1]);
            got.free_slot(slots[1]);
            const auto moved = want.compact();
            if (got.compact() != moved) throw std::runtime_error("the two sides compacted their caches differently");
            slots.erase(slots.begin() + 1);
            next.erase(next.begin() + 1);
            for (auto& slot : slots) slot = moved[static_cast<size_t>(slot)];
        }
        const std::vector<int32_t> ones(slots.size(), 1);
        const std::string where = "decode step " + std::to_string(s);
        w = want.step(true, slots, ones, next);
        g = got.step(true, slots, ones, next);
        next = compare_step(w, g, vocab, tol, where, t);
        sampled(g, where);
    }
    return t;
}

// Model shapes: the tiny presets widened so head_dim is one the CUDA kernels serve.
struct Variant {
    const char* preset;
    int32_t heads, head_dim;
};

exg_model_config widened(const Variant& v) {
    exg_model_config c{};
    c.struct_size = sizeof c;
    check(exg_config_preset(v.preset, &c), std::string("preset ") + v.preset);
    const bool projected = c.word_embed_proj_dim != c.hidden_size;
    c.num_heads = v.heads;
    c.hidden_size = v.heads * v.head_dim;
    c.ffn_dim = 2 * c.hidden_size;
    c.word_embed_proj_dim = projected ? c.hidden_size / 2 : c.hidden_size;
    c.vocab_size = 512;
    c.max_positions = 256;
    check(exg_config_validate(&c), std::string("widened preset ") + v.preset);
    return c;
}

struct Options {
    int32_t target = EXG_BACKEND_CUDA;
    std::vector<int32_t> dtypes = {EXG_DTYPE_BF16, EXG_DTYPE_F16};
    int steps = 16;
    int device = 0;
    std::string filter;
};

struct Summary {
    int passed = 0, failed = 0, skipped = 0;
};

class Runner {
public:
    explicit Runner(const Options& o) : o_(o) {}

    // Whether --filter lets the case of this name run.
    bool selected(const std::string& name) const { return o_.filter.empty() || name.find(o_.filter) != std::string::npos; }

    // One case: PASS/FAIL/SKIP line, counted.
    void run_case(const std::string& name, const std::function<std::string()>& body) {
        if (!selected(name)) return;
        try {
            const std::string detail = body();
            std::printf("PASS  %-34s %s\n", name.c_str(), detail.c_str());
            ++s_.passed;
        } catch (const Skip& e) {
            std::printf("SKIP  %-34s %s\n", name.c_str(), e.what());
            ++s_.skipped;
        } catch (const std::exception& e) {
            std::printf("FAIL  %-34s %s\n", name.c_str(), e.what());
            ++s_.failed;
        }
        std::fflush(stdout);
    }
    const Summary& summary() const { return s_; }

    // The target backend of one dtype, or a Skip naming why it cannot be created.
    std::unique_ptr<Backend> target_backend(int32_t dtype, int32_t device) const {
        if (o_.target == EXG_BACKEND_CPU) return std::make_unique<Backend>(EXG_BACKEND_CPU, 0, EXG_DTYPE_F32);
        exg_backend_params p{sizeof(exg_backend_params), EXG_BACKEND_CUDA, device, 0, dtype};
        exg_backend* b = nullptr;
        const exg_status status = exg_backend_create(&p, &b);
        if (status == EXG_OK) {
            auto owned = std::make_unique<Backend>();
            owned->handle = b;
            return owned;
        }
        const std::string why = exg_last_error_message();
        // A missing second device is a property of the machine; any other failure is the backend's.
        if (device > 0) throw Skip("needs CUDA device " + std::to_string(device) + ": " + why);
        throw std::runtime_error(std::string("create the cuda backend: ") + exg_status_name(status) + ": " + why);
    }

    static constexpr const char* kCases[] = {"single", "kv hand-off", "tp2"};

    static std::string variant_name(const Variant& v, int32_t dtype) {
        return std::string(v.preset) + " hd" + std::to_string(v.head_dim) + " " + dtype_name(dtype);
    }

    // Counts the variant's cases as skipped without running them (no CUDA here: one reason for all).
    void skip_variant(const Variant& v, int32_t dtype) {
        for (const char* c : kCases)
            if (selected(variant_name(v, dtype) + " " + c)) ++s_.skipped;
    }

    void run_variant(const Variant& v, int32_t dtype) {
        const exg_model_config config = widened(v);
        const std::string name = variant_name(v, dtype);
        const double tol = tolerance(dtype);
        const auto seed = static_cast<uint32_t>(1000 + v.head_dim);
        // One checkpoint in the target's dtype, written from a seeded model on the CPU.
        TempDir dir(std::string(v.preset) + "-" + std::to_string(v.head_dim) + "-" + dtype_name(dtype));
        {
            exg_model_params mp{};
            mp.struct_size = sizeof mp;
            mp.config = config;
            mp.seed = seed;
            mp.layer_end = config.num_layers;
            mp.tp_size = 1;
            exg_model* m = nullptr;
            check(exg_model_create(cpu_.handle, &mp, &m), "create the seeded model");
            const exg_status saved = exg_model_save_checkpoint(m, dir.path.string().c_str(), dtype);
            exg_model_free(m);
            check(saved, "save the checkpoint");
        }
        const std::string ckpt = dir.path.string();
        const Prompt prompt = make_prompt(config.vocab_size, seed);

        run_case(name + " " + kCases[0], [&] {
            auto target = target_backend(dtype, o_.device);
            Replica want({cpu_.handle}, {}, config, ckpt), got({target->handle}, {}, config, ckpt);
            return run_greedy(want, got, prompt, o_.steps, tol, true).verdict(tol);
        });

        run_case(name + " " + kCases[1], [&] {
            auto target = target_backend(dtype, o_.device);
            Replica from({target->handle}, {}, config, ckpt), to({target->handle}, {}, config, ckpt);
            auto slots = from.alloc_slots(prompt.lens.size());
            if (to.alloc_slots(prompt.lens.size()) != slots) throw std::runtime_error("the two caches allocated different slots");
            auto logits = from.step(false, slots, prompt.lens, prompt.tokens);
            const std::vector<int32_t> ones(slots.size(), 1);
            auto greedy = [&](const std::vector<float>& l) {
                std::vector<int32_t> next;
                for (size_t r = 0; r < slots.size(); ++r) next.push_back(argmax(l.data() + r * static_cast<size_t>(config.vocab_size), config.vocab_size));
                return next;
            };
            for (int s = 0; s < 3; ++s) logits = from.step(true, slots, ones, greedy(logits));
            for (int32_t slot : slots) {
                to.import_slot(slot, from.export_slot(slot));
                if (to.seq_len(slot) != from.seq_len(slot))
                    throw std::runtime_error("imported slot " + std::to_string(slot) + " holds " + std::to_string(to.seq_len(slot)) +
                                             " tokens, the exported one " + std::to_string(from.seq_len(slot)));
            }
            Tally t;
            for (int s = 1; s <= std::max(2, o_.steps / 2); ++s) {
                const auto next = greedy(logits);
                logits = from.step(true, slots, ones, next);
                const auto continued = to.step(true, slots, ones, next);
                compare_step(logits, continued, config.vocab_size, tol, "step " + std::to_string(s) + " after the import", t);
            }
            return t.verdict(tol);
        });

        run_case(name + " " + kCases[2], [&] {
            if (o_.target == EXG_BACKEND_CPU) {
                Replica want({cpu_.handle, cpu_.handle}, host_group(), config, ckpt);
                Replica got({cpu_.handle, cpu_.handle}, host_group(), config, ckpt);
                return run_greedy(want, got, prompt, o_.steps, tol, true).verdict(tol);
            }
            auto rank0 = target_backend(dtype, o_.device);
            auto rank1 = target_backend(dtype, o_.device + 1);
            Replica want({cpu_.handle, cpu_.handle}, host_group(), config, ckpt);
            Replica got({rank0->handle, rank1->handle}, nccl_group({rank0->handle, rank1->handle}), config, ckpt);
            return run_greedy(want, got, prompt, o_.steps, tol, true).verdict(tol);
        });
    }

private:
    static constexpr uint32_t kCommTimeoutMs = 30000;  // a rank that dies fails its peer instead of hanging it

    std::vector<exg_comm*> host_group() const {
        std::vector<exg_comm*> comms(2, nullptr);
        check(exg_comm_create_host_group(2, kCommTimeoutMs, comms.data()), "create the host group");
        return comms;
    }

    // One NCCL communicator per backend, created concurrently (ncclCommInitRank waits for every rank).
    std::vector<exg_comm*> nccl_group(const std::vector<exg_backend*>& backends) const {
        uint8_t id[EXG_NCCL_UNIQUE_ID_BYTES];
        if (exg_comm_nccl_unique_id(id, sizeof id) != EXG_OK) throw Skip(std::string("NCCL: ") + exg_last_error_message());
        std::vector<exg_comm*> comms(backends.size(), nullptr);
        std::vector<std::string> errors(backends.size());
        std::vector<std::thread> threads;
        for (size_t r = 0; r < backends.size(); ++r)
            threads.emplace_back([&, r] {
                if (exg_comm_create_nccl(backends[r], id, static_cast<int32_t>(backends.size()), static_cast<int32_t>(r),
                                         kCommTimeoutMs, &comms[r]) != EXG_OK)
                    errors[r] = exg_last_error_message();
            });
        for (auto& t : threads) t.join();
        for (size_t r = 0; r < backends.size(); ++r)
            if (!errors[r].empty()) {
                for (auto* c : comms) exg_comm_free(c);
                throw std::runtime_error("NCCL communicator of rank " + std::to_string(r) + ": " + errors[r]);
            }
        return comms;
    }

    Options o_;
    Summary s_;
    Backend cpu_{EXG_BACKEND_CPU, 0, EXG_DTYPE_F32};
};

[[noreturn]] void usage(const std::string& error) {
    std::fprintf(stderr,
                 "e2e_parity: %s\nusage: e2e_parity [--target cuda|cpu] [--dtype bf16|f16|all] [--steps N] [--filter SUBSTRING] "
                 "[--device N]\n",
                 error.c_str());
    std::exit(2);
}

int parse_int(const char* flag, const std::string& text, int min) {
    char* end = nullptr;
    const long v = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || v < min || v > 1000000) usage(std::string(flag) + " expects a number >= " + std::to_string(min));
    return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
    if (exg_api_version() != EXG_API_VERSION) {
        std::fprintf(stderr, "e2e_parity: libexegpt speaks API version %u, this program %d\n", exg_api_version(), EXG_API_VERSION);
        return 1;
    }
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(a + " needs a value");
            return argv[++i];
        };
        if (a == "--target") {
            const std::string t = value();
            if (t != "cuda" && t != "cpu") usage("--target must be cuda or cpu");
            o.target = t == "cpu" ? EXG_BACKEND_CPU : EXG_BACKEND_CUDA;
        } else if (a == "--dtype") {
            const std::string d = value();
            if (d == "bf16") o.dtypes = {EXG_DTYPE_BF16};
            else if (d == "f16") o.dtypes = {EXG_DTYPE_F16};
            else if (d != "all") usage("--dtype must be bf16, f16 or all");
        } else if (a == "--steps") o.steps = parse_int("--steps", value(), 2);
        else if (a == "--device") o.device = parse_int("--device", value(), 0);
        else if (a == "--filter") o.filter = value();
        else if (a == "-h" || a == "--help") {
            std::printf("usage: e2e_parity [--target cuda|cpu] [--dtype bf16|f16|all] [--steps N] [--filter SUBSTRING] [--device N]\n");
            return 0;
        } else usage("unknown argument \"" + a + "\"");
    }
    if (o.target == EXG_BACKEND_CPU) o.dtypes = {EXG_DTYPE_F32};

    const Variant variants[] = {{"tiny", 4, 64},      {"tiny-gelu", 4, 64}, {"tiny-postln", 4, 64}, {"tiny-proj", 4, 64},
                                {"tiny", 2, 80},      {"tiny-gelu", 2, 96}, {"tiny-postln", 2, 128}};
    try {
        Runner runner(o);
        const bool cuda_missing = o.target == EXG_BACKEND_CUDA && !exg_backend_available(EXG_BACKEND_CUDA);
        if (cuda_missing) std::printf("SKIP  every CUDA case: %s\n", exg_backend_unavailable_reason(EXG_BACKEND_CUDA));
        for (const auto& v : variants)
            for (int32_t dtype : o.dtypes) {
                if (cuda_missing) {
                    runner.skip_variant(v, dtype);
                    continue;
                }
                try {
                    runner.run_variant(v, dtype);
                } catch (const std::exception& e) {  // the checkpoint could not be made: the variant fails
                    runner.run_case(Runner::variant_name(v, dtype), [&]() -> std::string { throw std::runtime_error(e.what()); });
                }
            }
        const Summary& s = runner.summary();
        std::printf("%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped);
        return s.failed == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "e2e_parity: %s\n", e.what());
        return 1;
    }
}
