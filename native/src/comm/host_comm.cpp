#include "comm/communicator.h"

#include "core/error.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace exg {
namespace {

// Shared state of one group. An all-reduce is three barrier-separated phases: publish buffers;
// each rank sums its 1/N slice across all buffers and writes it back to every buffer; wait until
// every slice is written so no rank returns (and reuses its buffer) early.
class HostGroup {
public:
    HostGroup(int size, uint32_t timeout_ms)
        : size_(size), timeout_(std::chrono::milliseconds(timeout_ms == 0 ? 60000 : timeout_ms)),
          buffers_(static_cast<size_t>(size), nullptr), counts_(static_cast<size_t>(size), 0) {}

    int size() const { return size_; }

    void all_reduce(int rank, float* data, size_t count) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            check_aborted_locked();
            buffers_[static_cast<size_t>(rank)] = data;
            counts_[static_cast<size_t>(rank)] = count;
        }
        barrier(rank);
        for (int r = 0; r < size_; ++r) {
            if (counts_[static_cast<size_t>(r)] != count) {
                abort();
                fail(EXG_ERR_COMM, "all_reduce: rank ", rank, " passed ", count, " elements but rank ", r, " passed ",
                     counts_[static_cast<size_t>(r)]);
            }
        }
        const size_t chunk = (count + static_cast<size_t>(size_) - 1) / static_cast<size_t>(size_);
        const size_t begin = std::min(count, chunk * static_cast<size_t>(rank));
        const size_t end = std::min(count, begin + chunk);
        for (size_t i = begin; i < end; ++i) {
            float sum = 0.0f;
            for (int r = 0; r < size_; ++r) sum += buffers_[static_cast<size_t>(r)][i];  // rank order: deterministic
            for (int r = 0; r < size_; ++r) buffers_[static_cast<size_t>(r)][i] = sum;
        }
        barrier(rank);
    }

    void abort() {
        std::lock_guard<std::mutex> lock(mu_);
        aborted_ = true;
        cv_.notify_all();
    }

    // Rendezvous point-to-point: the sender posts its buffer in the (from, to) mailbox and waits until
    // the receiver has copied it out, so the sender may reuse its buffer on return (like a blocking send).
    // A flag and a counter, not the pointer, mark the message: a zero-byte send may pass a null buffer.
    void send(int from, int to, const void* data, size_t bytes) {
        std::unique_lock<std::mutex> lock(mu_);
        Mailbox& box = mailbox(from, to);
        wait_locked(lock, [&] { return !box.full; }, "send", from, to);
        box.data = data;
        box.bytes = bytes;
        box.full = true;
        const uint64_t ticket = box.taken;
        cv_.notify_all();
        wait_locked(lock, [&] { return box.taken != ticket; }, "send", from, to);
    }

    void recv(int to, int from, void* data, size_t bytes) {
        std::unique_lock<std::mutex> lock(mu_);
        Mailbox& box = mailbox(from, to);
        wait_locked(lock, [&] { return box.full; }, "recv", from, to);
        if (box.bytes != bytes) {
            aborted_ = true;
            cv_.notify_all();
            fail(EXG_ERR_COMM, "recv: rank ", to, " expected ", bytes, " bytes but rank ", from, " sent ", box.bytes);
        }
        if (bytes > 0) std::memcpy(data, box.data, bytes);
        box.data = nullptr;
        box.full = false;
        ++box.taken;
        cv_.notify_all();
    }

private:
    void check_aborted_locked() const {
        if (aborted_) fail(EXG_ERR_COMM, "collective aborted: another rank of the group failed or gave up");
    }

    void barrier(int rank) {
        std::unique_lock<std::mutex> lock(mu_);
        check_aborted_locked();
        const uint64_t generation = generation_;
        if (++arrived_ == size_) {
            arrived_ = 0;
            ++generation_;
            cv_.notify_all();
            return;
        }
        const bool done = cv_.wait_for(lock, timeout_, [&] { return generation_ != generation || aborted_; });
        if (aborted_ && generation_ == generation) check_aborted_locked();
        if (!done) {
            aborted_ = true;  // the group is unusable once a rank has given up on it
            cv_.notify_all();
            fail(EXG_ERR_COMM, "collective timed out after ", timeout_.count(), " ms: rank ", rank, " waited for ",
                 size_ - arrived_, " of ", size_, " ranks");
        }
    }

    struct Mailbox {
        const void* data = nullptr;  // posted by the sender (full set), taken by the receiver (full cleared)
        size_t bytes = 0;
        bool full = false;
        uint64_t taken = 0;  // messages the receiver has copied out: the sender's wait for its own
    };
    Mailbox& mailbox(int from, int to) {
        if (mailboxes_.empty()) mailboxes_.resize(static_cast<size_t>(size_) * static_cast<size_t>(size_));
        return mailboxes_[static_cast<size_t>(from) * static_cast<size_t>(size_) + static_cast<size_t>(to)];
    }
    template <class Ready>
    void wait_locked(std::unique_lock<std::mutex>& lock, Ready ready, const char* op, int from, int to) {
        check_aborted_locked();
        if (!cv_.wait_for(lock, timeout_, [&] { return ready() || aborted_; })) {
            aborted_ = true;
            cv_.notify_all();
            fail(EXG_ERR_COMM, op, " from rank ", from, " to rank ", to, " timed out after ", timeout_.count(), " ms");
        }
        check_aborted_locked();
    }

    const int size_;
    const std::chrono::milliseconds timeout_;
    std::mutex mu_;
    std::condition_variable cv_;
    int arrived_ = 0;
    uint64_t generation_ = 0;
    bool aborted_ = false;
    std::vector<float*> buffers_;
    std::vector<size_t> counts_;
    std::vector<Mailbox> mailboxes_;
};

class HostCommunicator final : public Communicator {
public:
    HostCommunicator(std::shared_ptr<HostGroup> group, int rank) : group_(std::move(group)), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return group_->size(); }
    void all_reduce_sum(void* data, size_t count, exg_dtype dtype) override {
        require(dtype == EXG_DTYPE_F32, EXG_ERR_INVALID_ARGUMENT, "host all_reduce: dtype ", static_cast<int>(dtype),
                " is not f32 (host groups serve the f32 CPU backend)");
        if (group_->size() == 1) return;
        group_->all_reduce(rank_, static_cast<float*>(data), count);
    }
    void send(const void* data, size_t bytes, int peer) override {
        check_peer(peer, "send");
        group_->send(rank_, peer, data, bytes);
    }
    void recv(void* data, size_t bytes, int peer) override {
        check_peer(peer, "recv");
        group_->recv(rank_, peer, data, bytes);
    }
    void abort() override { group_->abort(); }

private:
    void check_peer(int peer, const char* op) const {
        require(peer >= 0 && peer < group_->size() && peer != rank_, EXG_ERR_INVALID_ARGUMENT, op, ": peer ", peer,
                " is not another rank of this group of ", group_->size(), " (rank ", rank_, ")");
    }

    std::shared_ptr<HostGroup> group_;
    int rank_;
};

}  // namespace

std::vector<std::unique_ptr<Communicator>> create_host_group(int world_size, uint32_t timeout_ms) {
    require(world_size >= 1 && world_size <= 1024, EXG_ERR_INVALID_ARGUMENT,
            "host group world_size must be in [1, 1024], got ", world_size);
    auto group = std::make_shared<HostGroup>(world_size, timeout_ms);
    std::vector<std::unique_ptr<Communicator>> comms;
    for (int r = 0; r < world_size; ++r) comms.push_back(std::make_unique<HostCommunicator>(group, r));
    return comms;
}

}  // namespace exg
