// The NCCL loader of the CUDA backend (backend/cuda/nccl/nccl_loader.cpp), compiled here without CUDA:
// which files it opens, what it says when NCCL is missing or incomplete, and that it binds a library
// exporting the NCCL entry points (tests/native/nccl/fake_nccl.cpp; EXG_FAKE_NCCL and
// EXG_FAKE_NCCL_INCOMPLETE are its paths).
#include "backend/cuda/nccl/nccl_loader.h"

#include "error_expect.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <dlfcn.h>
#include <unistd.h>

using exg::Error;
using exg::cuda::NcclLibrary;
using exg::cuda::open_nccl_library;
using exg_test::contains;
using exg_test::error_of;

TEST(NcclLoader, VersionCodesDecodeAcrossBothSchemes) {
    // NCCL_VERSION(X, Y, Z) is X*1000 + Y*100 + Z up to 2.8, X*10000 + Y*100 + Z from 2.9 on.
    EXPECT_EQ(exg::cuda::nccl_version_string(2708), "2.7.8");
    EXPECT_EQ(exg::cuda::nccl_version_string(2804), "2.8.4");
    EXPECT_EQ(exg::cuda::nccl_version_string(21903), "2.19.3");
    EXPECT_EQ(exg::cuda::nccl_version_string(22703), "2.27.3");
    EXPECT_EQ(exg::cuda::nccl_version_string(30001), "3.0.1");
}

TEST(NcclLoader, BindsEveryEntryPointOfAnNcclLibrary) {
    const NcclLibrary lib = open_nccl_library(EXG_FAKE_NCCL);
    EXPECT_EQ(lib.path, EXG_FAKE_NCCL);
    EXPECT_EQ(lib.version, 21903);
    EXPECT_NE(lib.get_version, nullptr);
    EXPECT_NE(lib.comm_init_rank, nullptr);
    EXPECT_NE(lib.comm_abort, nullptr);
    EXPECT_NE(lib.comm_destroy, nullptr);
    EXPECT_NE(lib.comm_get_async_error, nullptr);
    EXPECT_NE(lib.all_reduce, nullptr);
    EXPECT_NE(lib.send, nullptr);
    EXPECT_NE(lib.recv, nullptr);
    EXPECT_NE(lib.get_last_error, nullptr);
    EXPECT_FALSE(lib.nonblocking());        // this build did not see nccl.h, so it cannot fill ncclConfig_t

    ncclUniqueId a{}, b{};
    ASSERT_EQ(lib.get_unique_id(&a), ncclSuccess);  // called through the resolved pointer
    ASSERT_EQ(lib.get_unique_id(&b), ncclSuccess);
    EXPECT_NE(std::memcmp(a.internal, b.internal, sizeof a.internal), 0);
    EXPECT_EQ(lib.describe(static_cast<ncclResult_t>(3), nullptr), "internal error (fake) (fake last error)");
}

TEST(NcclLoader, AnExplicitPathThatDoesNotExistIsNamedWithTheVariable) {
    const Error e = error_of([] { open_nccl_library("/nonexistent/libnccl.so.2"); });
    EXPECT_EQ(e.status(), EXG_ERR_UNSUPPORTED);
    EXPECT_TRUE(contains(e.what(), "EXEGPT_NCCL_LIBRARY=/nonexistent/libnccl.so.2"));
    EXPECT_TRUE(contains(e.what(), "No such file"));
}

TEST(NcclLoader, AFileThatIsNotALibraryIsRefusedWithDlopensReason) {
    char path[] = "/tmp/exegpt-not-nccl-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "not an ELF file", 15), 15);
    close(fd);
    const Error e = error_of([&] { open_nccl_library(path); });
    std::remove(path);
    EXPECT_EQ(e.status(), EXG_ERR_UNSUPPORTED);
    EXPECT_TRUE(contains(e.what(), path));
    EXPECT_TRUE(contains(e.what(), "point it at libnccl.so.2"));
}

TEST(NcclLoader, ALibraryWithoutTheEntryPointsNamesTheMissingOnes) {
    const Error e = error_of([] { open_nccl_library(EXG_FAKE_NCCL_INCOMPLETE); });
    EXPECT_EQ(e.status(), EXG_ERR_UNSUPPORTED);
    EXPECT_TRUE(contains(e.what(), EXG_FAKE_NCCL_INCOMPLETE));
    EXPECT_TRUE(contains(e.what(), "does not export ncclSend, ncclRecv"));
    EXPECT_TRUE(contains(e.what(), "EXEGPT_NCCL_LIBRARY"));
}

// The process-wide library: without NCCL on the library path it fails naming both file names and the
// fix; the failure is not cached, so setting EXEGPT_NCCL_LIBRARY afterwards loads that library.
TEST(NcclLoader, TheProcessLibraryComesFromTheLibraryPathOrTheVariable) {
    if (void* installed = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL)) {
        dlclose(installed);
        GTEST_SKIP() << "NCCL is installed on this machine: the missing-library message cannot be checked";
    }
    if (void* installed = dlopen("libnccl.so", RTLD_NOW | RTLD_LOCAL)) {
        dlclose(installed);
        GTEST_SKIP() << "NCCL is installed on this machine: the missing-library message cannot be checked";
    }
    ASSERT_EQ(unsetenv(exg::cuda::nccl_library_env), 0);
    const Error e = error_of([] { exg::cuda::nccl_library(); });
    EXPECT_EQ(e.status(), EXG_ERR_UNSUPPORTED);
    EXPECT_TRUE(contains(e.what(), "libnccl.so.2"));
    EXPECT_TRUE(contains(e.what(), "libnccl.so:"));
    EXPECT_TRUE(contains(e.what(), "set EXEGPT_NCCL_LIBRARY to the full path of libnccl.so.2"));

    ASSERT_EQ(setenv(exg::cuda::nccl_library_env, EXG_FAKE_NCCL, 1), 0);
    const NcclLibrary& lib = exg::cuda::nccl_library();
    unsetenv(exg::cuda::nccl_library_env);
    EXPECT_EQ(lib.path, EXG_FAKE_NCCL);
    EXPECT_EQ(&exg::cuda::nccl_library(), &lib);  // opened once, kept for the process
}
