// A stand-in for libnccl.so.2 (NCCL "2.19.3") for the NCCL loader and communicator tests, which run
// without a GPU. It exports the entry points the loader resolves, with the C types of the NCCL API
// (enums are ints, handles pointers, ncclUniqueId a 128-byte struct passed by value), and simulates a
// group of ranks inside one process: "device memory" is host memory, a stream is any pointer, and work
// enqueued on a stream stays pending until its peers' matching calls arrive (fake_nccl_stream_busy
// tells the test's fake cudaStreamQuery). A blocking communicator (ncclCommInitRank) waits in init for
// every rank; a non-blocking one (ncclCommInitRankConfig with blocking = 0; the config layout is that of
// tests/native/nccl/include/nccl.h) returns ncclInProgress from init and enqueues, and
// finishes them in the background, as NCCL 2.14+ does; calling it again before its state left
// ncclInProgress counts as a misuse. Control and inspection entry points start with fake_nccl_.
// Built with FAKE_NCCL_INCOMPLETE it lacks ncclSend and ncclRecv, like an NCCL older than 2.7.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#define FAKE_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

constexpr int kSuccess = 0, kInternalError = 3, kInvalidArgument = 4, kRemoteError = 6, kInProgress = 7;
constexpr int kFloat32 = 7;

struct FakeUniqueId {
    char internal[128];
};

struct FakeConfig {  // ncclConfig_t of tests/native/nccl/include/nccl.h
    size_t size;
    unsigned int magic;
    unsigned int version;
    int blocking;
};

struct Op {
    void* stream;
    const void* send;
    void* recv;
    size_t count;  // elements (all-reduce) or bytes (send/recv)
    int type;
    bool done = false;
};

struct Comm;

struct Group {
    int size = 0;
    int joined = 0;
    std::vector<std::vector<Op*>> collectives;  // [k][rank]: each rank's k-th all-reduce
    std::map<std::pair<int, int>, std::vector<Op*>> sends, recvs;  // (from, to) -> unmatched, in order
};

struct Comm {
    Group* group;
    int rank;
    size_t collectives = 0;  // all-reduces enqueued so far
    int async_error = kSuccess;
    std::vector<Op*> pending;
    bool nonblocking = false;
    int state = kSuccess;  // ncclInProgress while a non-blocking call finishes in the background
    bool aborted = false;
};

// Everything is leaked on purpose: threads the tests leave blocked inside ncclCommInitRank (a rank that
// never joins) must never see this state destroyed at exit.
struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, Group*> groups;
    std::vector<Comm*> comms;
    std::map<void*, int> busy;  // stream -> pending ops
    uint64_t next_id = 1;
    int aborts = 0, destroys = 0, misuses = 0;
    bool hold_enqueue = false;  // enqueues block until fake_nccl_release_enqueue (a peer that never connects)
};

State& st() {
    static State* s = new State;
    return *s;
}

void finish(State& s, Op* op) {
    if (op->done) return;
    op->done = true;
    if (--s.busy[op->stream] == 0) s.busy.erase(op->stream);
}

Op* enqueue(State& s, Comm* c, void* stream, const void* send, void* recv, size_t count, int type) {
    Op* op = new Op{stream, send, recv, count, type, false};
    ++s.busy[stream];
    c->pending.push_back(op);
    return op;
}

// Blocks while the test holds enqueues (the lock is released meanwhile).
void wait_for_enqueue(State& s, std::unique_lock<std::mutex>& lock) {
    s.cv.wait(lock, [&] { return !s.hold_enqueue; });
}

}  // namespace

FAKE_EXPORT int ncclGetVersion(int* version) {
    *version = 21903;  // NCCL_VERSION(2, 19, 3)
    return kSuccess;
}

FAKE_EXPORT int ncclGetUniqueId(FakeUniqueId* id) {
    State& s = st();
    std::lock_guard<std::mutex> lock(s.mu);
    std::memset(id->internal, 0x5a, sizeof id->internal);
    std::memcpy(id->internal, &s.next_id, sizeof s.next_id);
    ++s.next_id;
    return kSuccess;
}

namespace {

// Adds a rank to the group of `id`; null when the rank or size does not fit it.
Group* join(State& s, const FakeUniqueId& id, int nranks, int rank) {
    Group*& g = s.groups[std::string(id.internal, sizeof id.internal)];
    if (g == nullptr) {
        g = new Group;
        g->size = nranks;
    }
    if (g->size != nranks || rank < 0 || rank >= nranks) return nullptr;
    ++g->joined;
    s.cv.notify_all();
    return g;
}

Comm* new_comm(State& s, Group* g, int rank, bool nonblocking) {
    Comm* c = new Comm{g, rank, 0, kSuccess, {}, nonblocking, nonblocking ? kInProgress : kSuccess, false};
    s.comms.push_back(c);
    return c;
}

// A call on a non-blocking communicator whose previous call has not finished yet.
void check_idle(State& s, const Comm* c) {
    if (c->nonblocking && c->state == kInProgress) ++s.misuses;
}

// Runs `work` now (blocking communicator) or ~10 ms later on a background thread (non-blocking: the
// caller sees ncclInProgress, and the stream stays idle until then, so looking at the stream before the
// state says ncclSuccess finds nothing to wait for).
int submit(Comm* c, std::function<void(State&)> work) {
    State& s = st();
    std::unique_lock<std::mutex> lock(s.mu);
    check_idle(s, c);
    if (!c->nonblocking) {
        wait_for_enqueue(s, lock);
        work(s);
        return kSuccess;
    }
    c->state = kInProgress;
    std::thread([c, work = std::move(work)] {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        State& state = st();
        std::lock_guard<std::mutex> guard(state.mu);
        if (c->aborted) return;
        work(state);
        c->state = kSuccess;
    }).detach();
    return kInProgress;
}

}  // namespace

FAKE_EXPORT int ncclCommInitRank(Comm** comm, int nranks, FakeUniqueId id, int rank) {
    State& s = st();
    std::unique_lock<std::mutex> lock(s.mu);
    Group* g = join(s, id, nranks, rank);
    if (g == nullptr) return kInvalidArgument;
    s.cv.wait(lock, [&] { return g->joined >= g->size; });  // like NCCL: until every rank joined
    *comm = new_comm(s, g, rank, false);
    return kSuccess;
}

FAKE_EXPORT int ncclCommInitRankConfig(Comm** comm, int nranks, FakeUniqueId id, int rank, FakeConfig* config) {
    if (config == nullptr || config->magic != 0xcafebeef || config->size != sizeof(FakeConfig)) return kInvalidArgument;
    if (config->blocking != 0) return ncclCommInitRank(comm, nranks, id, rank);
    State& s = st();
    std::lock_guard<std::mutex> lock(s.mu);
    Group* g = join(s, id, nranks, rank);
    if (g == nullptr) return kInvalidArgument;
    Comm* c = new_comm(s, g, rank, true);
    *comm = c;
    std::thread([c, g] {  // the init finishes once every rank joined, or ends with an abort
        State& state = st();
        std::unique_lock<std::mutex> guard(state.mu);
        state.cv.wait(guard, [&] { return g->joined >= g->size || c->aborted; });
        if (!c->aborted) c->state = kSuccess;
    }).detach();
    return kInProgress;
}

FAKE_EXPORT int ncclCommAbort(Comm* c) {
    State& s = st();
    std::lock_guard<std::mutex> lock(s.mu);
    c->aborted = true;
    s.cv.notify_all();
    for (Op* op : c->pending) finish(s, op);  // the aborted kernels leave the stream
    ++s.aborts;
    return kSuccess;
}

FAKE_EXPORT int ncclCommDestroy(Comm* c) {
    State& s = st();
    std::lock_guard<std::mutex> lock(s.mu);
    check_idle(s, c);
    ++s.destroys;
    return kSuccess;
}

FAKE_EXPORT int ncclCommGetAsyncError(Comm* c, int* state) {
    State& s = st();
    std::lock_guard<std::mutex> lock(s.mu);
    *state = c->async_error != kSuccess ? c->async_error : c->state;
    return kSuccess;
}

FAKE_EXPORT const char* ncclGetErrorString(int result) {
    switch (result) {
        case kInternalError: return "internal error (fake)";
        case kRemoteError: return "remote process exited or there was a network error (fake)";
        default: return "fake result";
    }
}

FAKE_EXPORT const char* ncclGetLastError(Comm*) { return "fake last error"; }

// Sums F32 data once every rank of the group enqueued its k-th all-reduce (other types: no change).
FAKE_EXPORT int ncclAllReduce(const void* send, void* recv, size_t count, int type, int /*op*/, Comm* c, void* stream) {
    return submit(c, [=](State& s) {
        Op* op = enqueue(s, c, stream, send, recv, count, type);
        Group* g = c->group;
        const size_t k = c->collectives++;
        if (g->collectives.size() <= k) g->collectives.resize(k + 1, std::vector<Op*>(static_cast<size_t>(g->size)));
        std::vector<Op*>& slot = g->collectives[k];
        slot[static_cast<size_t>(c->rank)] = op;
        for (Op* o : slot)
            if (o == nullptr) return;
        if (type == kFloat32) {
            std::vector<float> sum(count, 0.0f);
            for (Op* o : slot)
                for (size_t i = 0; i < count; ++i) sum[i] += static_cast<const float*>(o->send)[i];
            for (Op* o : slot) std::memcpy(o->recv, sum.data(), count * sizeof(float));
        }
        for (Op* o : slot) finish(s, o);
    });
}

#if !defined(FAKE_NCCL_INCOMPLETE)
namespace {

void match_p2p(State& s, Group* g, int from, int to) {
    auto& sends = g->sends[{from, to}];
    auto& recvs = g->recvs[{from, to}];
    while (!sends.empty() && !recvs.empty()) {
        Op* a = sends.front();
        Op* b = recvs.front();
        sends.erase(sends.begin());
        recvs.erase(recvs.begin());
        if (a->count == b->count) std::memcpy(b->recv, a->send, a->count);
        finish(s, a);
        finish(s, b);
    }
}

}  // namespace

FAKE_EXPORT int ncclSend(const void* send, size_t count, int type, int peer, Comm* c, void* stream) {
    return submit(c, [=](State& s) {
        c->group->sends[{c->rank, peer}].push_back(enqueue(s, c, stream, send, nullptr, count, type));
        match_p2p(s, c->group, c->rank, peer);
    });
}

FAKE_EXPORT int ncclRecv(void* recv, size_t count, int type, int peer, Comm* c, void* stream) {
    return submit(c, [=](State& s) {
        c->group->recvs[{peer, c->rank}].push_back(enqueue(s, c, stream, nullptr, recv, count, type));
        match_p2p(s, c->group, peer, c->rank);
    });
}
#endif

// --- control and inspection (the tests resolve these with dlsym) ---------------------------------------

FAKE_EXPORT int fake_nccl_stream_busy(void* stream) {
    State& s = st();
    std::lock_guard<std::mutex> lock(s.mu);
    return s.busy.count(stream) != 0 ? 1 : 0;
}

FAKE_EXPORT void fake_nccl_hold_enqueue(int hold) {
    State& s = st();
    std::lock_guard<std::mutex> lock(s.mu);
    s.hold_enqueue = hold != 0;
    s.cv.notify_all();
}

// Every communicator with pending work reports `result` from ncclCommGetAsyncError (a peer failed).
FAKE_EXPORT void fake_nccl_fail_pending(int result) {
    State& s = st();
    std::lock_guard<std::mutex> lock(s.mu);
    for (Comm* c : s.comms)
        for (Op* op : c->pending)
            if (!op->done) c->async_error = result;
}

FAKE_EXPORT int fake_nccl_aborts() {
    State& s = st();
    std::lock_guard<std::mutex> lock(s.mu);
    return s.aborts;
}

FAKE_EXPORT int fake_nccl_destroys() {
    State& s = st();
    std::lock_guard<std::mutex> lock(s.mu);
    return s.destroys;
}

FAKE_EXPORT int fake_nccl_misuses() {
    State& s = st();
    std::lock_guard<std::mutex> lock(s.mu);
    return s.misuses;
}
