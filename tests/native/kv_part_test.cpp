// KV hand-off by parts: a blob holds a layer range x a head range in absolute model indices and lands on
// any cache that holds those rows, whatever its stage and TP rank. The caches are filled with a pattern
// that encodes (absolute layer, absolute head, position, dim), so every moved row can be checked against
// where it must come from.
#include "api_fixture.h"
#include "backend/cpu/cpu_backend.h"
#include "error_expect.h"
#include "model/kv_cache.h"

#include <exegpt/exegpt.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using exg::KvCache;
using exg::KvPart;
using exg::KvShape;
using exg_test::expect_error;

constexpr int32_t kLayers = 4, kHeads = 4, kHeadDim = 3, kMaxSeq = 8;

float pattern(bool value, int32_t layer, int32_t head, int32_t pos, int32_t d) {
    const float f = static_cast<float>(layer * 1000 + head * 100 + pos) + 0.01f * static_cast<float>(d + 1);
    return value ? -f : f;
}

exg::CpuBackend& backend() {
    static exg::CpuBackend cpu(1);
    return cpu;
}

// A cache of the shard holding layers [begin, end) at tp rank `rank` of `size`.
KvCache make_cache(int32_t begin, int32_t end, int32_t rank, int32_t size, int32_t head_dim = kHeadDim) {
    return KvCache(&backend(), KvShape{end - begin, kHeads / size, head_dim, begin, rank, size}, 2, kMaxSeq);
}

// Fills `len` positions of a fresh slot with the pattern of the rows the cache holds.
int32_t filled_slot(KvCache& c, int32_t len) {
    const int32_t slot = c.alloc_slot();
    const KvPart all = c.whole();
    for (int32_t l = 0; l < c.shape().layers; ++l)
        for (int32_t h = 0; h < c.shape().heads; ++h)
            for (int32_t p = 0; p < len; ++p)
                for (int32_t d = 0; d < c.shape().head_dim; ++d) {
                    const int64_t at = slot * c.slot_stride() + h * c.head_stride() + p * c.shape().head_dim + d;
                    static_cast<float*>(c.keys(l))[at] = pattern(false, all.layer_begin + l, all.head_begin + h, p, d);
                    static_cast<float*>(c.values(l))[at] = pattern(true, all.layer_begin + l, all.head_begin + h, p, d);
                }
    c.advance(slot, len);
    return slot;
}

// Every row of `part` in the slot holds the pattern for `len` positions.
void expect_rows(const KvCache& c, int32_t slot, const KvPart& part, int32_t len) {
    const KvPart all = c.whole();
    for (int32_t layer = part.layer_begin; layer < part.layer_end; ++layer)
        for (int32_t head = part.head_begin; head < part.head_end; ++head)
            for (int32_t p = 0; p < len; ++p)
                for (int32_t d = 0; d < c.shape().head_dim; ++d) {
                    const int64_t at = slot * c.slot_stride() + (head - all.head_begin) * c.head_stride() +
                                       p * c.shape().head_dim + d;
                    ASSERT_EQ(static_cast<float*>(c.keys(layer - all.layer_begin))[at], pattern(false, layer, head, p, d))
                        << "key of layer " << layer << ", head " << head << ", position " << p;
                    ASSERT_EQ(static_cast<float*>(c.values(layer - all.layer_begin))[at], pattern(true, layer, head, p, d))
                        << "value of layer " << layer << ", head " << head << ", position " << p;
                }
}

std::vector<uint8_t> export_part(const KvCache& c, int32_t slot, const KvPart& part) {
    std::vector<uint8_t> blob(c.export_size(slot, part));
    EXPECT_EQ(c.export_to(slot, part, blob.data(), blob.size()), blob.size());
    return blob;
}

TEST(KvPart, WholeIsTheShardsLayersAndHeads) {
    const KvPart stage = make_cache(1, 3, 1, 2).whole();
    EXPECT_EQ(stage.layer_begin, 1);
    EXPECT_EQ(stage.layer_end, 3);
    EXPECT_EQ(stage.head_begin, 2);
    EXPECT_EQ(stage.head_end, 4);
}

TEST(KvPart, BlobSizeIsHeaderPlusRows) {
    KvCache full = make_cache(0, kLayers, 0, 1);
    const int32_t slot = filled_slot(full, 5);
    const uint64_t rows = 2ull * 2 * 3;  // keys and values x layers [1, 3) x heads [1, 4)
    const uint64_t whole_rows = 2ull * kLayers * kHeads;
    const uint64_t part = full.export_size(slot, KvPart{1, 3, 1, 4});
    const uint64_t all = full.export_size(slot, full.whole());
    // Same header either way: the difference is the rows alone.
    EXPECT_EQ(all - part, (whole_rows - rows) * 5 * kHeadDim * sizeof(float));
    EXPECT_GT(part, rows * 5 * kHeadDim * sizeof(float));
}

TEST(KvPart, WholeBlobReplacesASlotOfTheSameShard) {
    KvCache src = make_cache(0, kLayers, 0, 1), dst = make_cache(0, kLayers, 0, 1);
    const int32_t from = filled_slot(src, 6);
    dst.alloc_slot();
    const int32_t to = filled_slot(dst, 2);  // a stale, shorter sequence
    const auto blob = export_part(src, from, src.whole());
    dst.import_from(to, blob.data(), blob.size());
    EXPECT_EQ(dst.seq_len(to), 6);
    expect_rows(dst, to, dst.whole(), 6);
}

struct Cut {
    int32_t begin, end, rank, size;
};

class KvPartOntoShard : public ::testing::TestWithParam<Cut> {};

TEST_P(KvPartOntoShard, FullEncoderPartLandsOnItsRows) {
    const Cut cut = GetParam();
    KvCache full = make_cache(0, kLayers, 0, 1);
    KvCache shard = make_cache(cut.begin, cut.end, cut.rank, cut.size);
    const int32_t from = filled_slot(full, 7);
    shard.alloc_slot();
    const int32_t to = shard.alloc_slot();
    const auto blob = export_part(full, from, shard.whole());
    shard.import_from(to, blob.data(), blob.size());
    EXPECT_EQ(shard.seq_len(to), 7);
    expect_rows(shard, to, shard.whole(), 7);
}

INSTANTIATE_TEST_SUITE_P(Cuts, KvPartOntoShard,
                         ::testing::Values(Cut{0, 2, 0, 1}, Cut{2, 4, 0, 1}, Cut{0, 4, 1, 2}, Cut{1, 3, 0, 2},
                                           Cut{3, 4, 3, 4}),
                         [](const ::testing::TestParamInfo<Cut>& p) {
                             return "layers" + std::to_string(p.param.begin) + "to" + std::to_string(p.param.end) +
                                    "_rank" + std::to_string(p.param.rank) + "of" + std::to_string(p.param.size);
                         });

TEST(KvPart, PartsOfTwoEncoderStagesFillOneDecoderSlot) {
    KvCache first = make_cache(0, 2, 0, 1), second = make_cache(2, kLayers, 0, 1);
    KvCache decoder = make_cache(0, kLayers, 1, 2);  // every layer, heads [2, 4)
    const int32_t a = filled_slot(first, 4), b = filled_slot(second, 4);
    const int32_t to = decoder.alloc_slot();
    const auto from_first = export_part(first, a, KvPart{0, 2, 2, 4});
    const auto from_second = export_part(second, b, KvPart{2, 4, 2, 4});
    decoder.import_from(to, from_second.data(), from_second.size());
    decoder.import_from(to, from_first.data(), from_first.size());
    EXPECT_EQ(decoder.seq_len(to), 4);
    expect_rows(decoder, to, decoder.whole(), 4);
}

TEST(KvPart, PartsOfTwoTensorParallelRanksFillOneSlot) {
    // The other way round: TP ranks hand their head blocks to one shard of fewer layers at tp 1.
    KvCache rank0 = make_cache(0, kLayers, 0, 2), rank1 = make_cache(0, kLayers, 1, 2);
    KvCache decoder = make_cache(1, 3, 0, 1);
    const int32_t a = filled_slot(rank0, 5), b = filled_slot(rank1, 5);
    decoder.alloc_slot();
    const int32_t to = decoder.alloc_slot();
    const auto upper = export_part(rank1, b, KvPart{1, 3, 2, 4});
    const auto lower = export_part(rank0, a, KvPart{1, 3, 0, 2});
    decoder.import_from(to, upper.data(), upper.size());
    EXPECT_EQ(decoder.seq_len(to), 5);
    expect_rows(decoder, to, KvPart{1, 3, 2, 4}, 5);
    decoder.import_from(to, lower.data(), lower.size());
    expect_rows(decoder, to, decoder.whole(), 5);
}

TEST(KvPart, ExportOfAPartOutsideTheCacheIsRefused) {
    KvCache stage = make_cache(1, 3, 1, 2);  // layers [1, 3), heads [2, 4)
    const int32_t slot = filled_slot(stage, 3);
    uint8_t buf[4096];
    expect_error([&] { stage.export_size(slot, KvPart{0, 2, 2, 4}); }, EXG_ERR_INVALID_ARGUMENT, "layers [1, 3)");
    expect_error([&] { stage.export_to(slot, KvPart{1, 3, 1, 3}, buf, sizeof buf); }, EXG_ERR_INVALID_ARGUMENT,
                 "heads [2, 4)");
    expect_error([&] { stage.export_size(slot, KvPart{2, 2, 2, 4}); }, EXG_ERR_INVALID_ARGUMENT, "non-empty");
    expect_error([&] { stage.export_to(slot, stage.whole(), buf, 10); }, EXG_ERR_CAPACITY, "needs");
}

class KvPartImportRefusal : public ::testing::Test {
protected:
    KvCache full_ = make_cache(0, kLayers, 0, 1);
    KvCache stage_ = make_cache(2, kLayers, 0, 2);  // layers [2, 4), heads [0, 2)
    int32_t from_ = filled_slot(full_, 5);
    int32_t to_ = filled_slot(stage_, 2);  // must be left as it was by every refused import

    void expect_refused(const std::vector<uint8_t>& blob, exg_status status, const std::string& needle,
                        size_t bytes = SIZE_MAX) {
        expect_error([&] { stage_.import_from(to_, blob.data(), bytes == SIZE_MAX ? blob.size() : bytes); }, status,
                     needle);
        EXPECT_EQ(stage_.seq_len(to_), 2);
        expect_rows(stage_, to_, stage_.whole(), 2);
    }
};

TEST_F(KvPartImportRefusal, LayersOutsideTheCache) {
    expect_refused(export_part(full_, from_, KvPart{1, 3, 0, 2}), EXG_ERR_FORMAT, "layers [1, 3) are not inside");
}

TEST_F(KvPartImportRefusal, HeadsOutsideTheCache) {
    expect_refused(export_part(full_, from_, KvPart{2, 4, 1, 3}), EXG_ERR_FORMAT, "heads [1, 3) are not inside");
}

TEST_F(KvPartImportRefusal, OtherHeadDim) {
    KvCache other = make_cache(2, kLayers, 0, 2, kHeadDim + 1);
    const int32_t slot = filled_slot(other, 5);
    expect_refused(export_part(other, slot, other.whole()), EXG_ERR_FORMAT, "head_dim 4");
}

TEST_F(KvPartImportRefusal, TruncatedOrPadded) {
    const auto blob = export_part(full_, from_, stage_.whole());
    expect_refused(blob, EXG_ERR_FORMAT, "truncated", blob.size() - 1);
    expect_refused(blob, EXG_ERR_FORMAT, "header", 7);
    auto padded = blob;
    padded.push_back(0);
    expect_refused(padded, EXG_ERR_FORMAT, "its header implies");
}

TEST_F(KvPartImportRefusal, BadMagicOrVersion) {
    auto blob = export_part(full_, from_, stage_.whole());
    auto bad_magic = blob;
    bad_magic[0] = 'X';
    expect_refused(bad_magic, EXG_ERR_FORMAT, "bad magic");
    auto bad_version = blob;
    bad_version[8] = 2;  // the version follows the 8-byte magic
    expect_refused(bad_version, EXG_ERR_FORMAT, "version 2");
}

TEST_F(KvPartImportRefusal, PartWhoseLengthDisagreesWithTheSlot) {
    // A part (not the whole cache) landing on a slot that holds another length: mixing sequences.
    expect_refused(export_part(full_, from_, KvPart{2, 3, 0, 2}), EXG_ERR_INVALID_ARGUMENT, "agree on seq_len");
}

TEST_F(KvPartImportRefusal, LongerThanTheSlots) {
    KvCache longer(&backend(), full_.shape(), 1, kMaxSeq + 4);
    const int32_t slot = filled_slot(longer, kMaxSeq + 1);
    expect_refused(export_part(longer, slot, stage_.whole()), EXG_ERR_CAPACITY, "at most 8");
}

// Through the C ABI: a 3-layer model prefilled whole, handed to two pipeline stages by parts, decodes on
// the stages exactly as it does whole.
struct ApiShard : exg_test::ApiModel {
    int32_t slot = -1;
};

void open_model(ApiShard& m, int32_t begin, int32_t end) {
    exg_model_params mp{};
    mp.struct_size = sizeof mp;
    ASSERT_EQ(exg_config_preset("tiny", &mp.config), EXG_OK);
    mp.config.num_layers = 3;
    mp.seed = 99;
    mp.layer_begin = begin;
    mp.layer_end = end;
    mp.tp_size = 1;
    ASSERT_EQ(exg_model_create(exg_test::shared_cpu_backend(), &mp, &m.model), EXG_OK) << exg_last_error_message();
    exg_kv_cache_params kp{sizeof(exg_kv_cache_params), 2, 32};
    ASSERT_EQ(exg_kv_cache_create(m.model, &kp, &m.cache), EXG_OK);
    ASSERT_EQ(exg_kv_cache_alloc_slot(m.cache, &m.slot), EXG_OK);
}

void hand_off(const ApiShard& from, const ApiShard& to) {
    exg_kv_part part{};
    part.struct_size = sizeof part;
    ASSERT_EQ(exg_kv_cache_whole_part(to.cache, &part), EXG_OK);
    uint64_t size = 0, written = 0;
    ASSERT_EQ(exg_kv_cache_export_part_size(from.cache, from.slot, &part, &size), EXG_OK) << exg_last_error_message();
    std::vector<uint8_t> blob(size);
    ASSERT_EQ(exg_kv_cache_export_part(from.cache, from.slot, &part, blob.data(), blob.size(), &written), EXG_OK);
    ASSERT_EQ(written, size);
    ASSERT_EQ(exg_kv_cache_import(to.cache, to.slot, blob.data(), written), EXG_OK) << exg_last_error_message();
}

TEST(KvPartApi, StagesDecodeAfterAHandOffFromTheWholeModel) {
    const int32_t vocab = 128, hidden = 64;
    ApiShard full, first, second;
    open_model(full, 0, 3);
    open_model(first, 0, 1);
    open_model(second, 1, 3);

    exg_kv_part part{};
    part.struct_size = sizeof part;
    ASSERT_EQ(exg_kv_cache_whole_part(second.cache, &part), EXG_OK);
    EXPECT_EQ(part.layer_begin, 1);
    EXPECT_EQ(part.layer_end, 3);
    EXPECT_EQ(part.head_begin, 0);
    EXPECT_EQ(part.head_end, 4);
    part.struct_size = 0;
    EXPECT_EQ(exg_kv_cache_whole_part(second.cache, &part), EXG_ERR_INVALID_ARGUMENT);
    uint64_t size = 0;
    EXPECT_EQ(exg_kv_cache_export_part_size(full.cache, full.slot, &part, &size), EXG_ERR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(exg_last_error_message()).find("struct_size"), std::string::npos);

    const std::vector<int32_t> prompt = {5, 17, 99, 3, 64, 28};
    const int32_t n = static_cast<int32_t>(prompt.size());
    std::vector<float> want(vocab), got(vocab), hidden_rows(static_cast<size_t>(hidden));
    auto b = exg_test::single_batch(&full.slot, &n, prompt.data(), nullptr, nullptr, want.data());
    ASSERT_EQ(exg_model_prefill(full.model, full.cache, &b), EXG_OK) << exg_last_error_message();
    hand_off(full, first);
    hand_off(full, second);

    for (int32_t token : {7, 81, 42}) {
        b = exg_test::single_batch(&full.slot, nullptr, &token, nullptr, nullptr, want.data());
        ASSERT_EQ(exg_model_decode(full.model, full.cache, &b), EXG_OK) << exg_last_error_message();
        b = exg_test::single_batch(&first.slot, nullptr, &token, nullptr, hidden_rows.data(), nullptr);
        ASSERT_EQ(exg_model_decode(first.model, first.cache, &b), EXG_OK) << exg_last_error_message();
        b = exg_test::single_batch(&second.slot, nullptr, nullptr, hidden_rows.data(), nullptr, got.data());
        ASSERT_EQ(exg_model_decode(second.model, second.cache, &b), EXG_OK) << exg_last_error_message();
        for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5f) << "token " << token << ", logit " << i;
    }
}

}  // namespace
