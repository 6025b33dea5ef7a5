// (32-bit hosts: stat() on 64-bit inode numbers and sizes; CMake defines it for every file, this
// keeps builds that do not, e.g. setup.py's, right.)
#ifndef _FILE_OFFSET_BITS
#define _FILE_OFFSET_BITS 64
#endif
#include "runtime/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "gru_infer/error.h"

namespace gru_infer {
namespace {

// Closes on every path out; close() errors are checked where they matter (after writing).
struct Fd {
    int fd;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { if (fd >= 0) ::close(fd); }
    int release() { const int f = fd; fd = -1; return f; }
};

void read_exactly(int fd, std::uint8_t* p, std::size_t n, const std::string& path) {
    while (n) {
        const ssize_t got = ::read(fd, p, n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) throw FileError(errno, path, "cannot read model file");
        if (got == 0) throw FormatError("model file '" + path + "' ended early (it is being written or was truncated)");
        p += got;
        n -= static_cast<std::size_t>(got);
    }
}

void write_all(int fd, const void* data, std::size_t n, const std::string& path) {
    const auto* p = static_cast<const std::uint8_t*>(data);
    while (n) {
        const ssize_t put = ::write(fd, p, n);
        if (put < 0 && errno == EINTR) continue;
        if (put < 0) throw FileError(errno, path, "cannot write");
        p += put;
        n -= static_cast<std::size_t>(put);
    }
}

std::string folder_of(const std::string& path) {
    const auto slash = path.find_last_of('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

// Opens a new file next to `path` that no one else has (O_EXCL), with the default permissions.
int open_temporary(const std::string& path, std::string& name) {
    static std::atomic<unsigned> counter{0};
    for (int attempt = 0; attempt < 100; ++attempt) {
        name = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
        const int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
}

}  // namespace

std::vector<std::uint8_t> read_regular_file(
    const std::string& path, std::size_t head_bytes,
    const std::function<void(const std::uint8_t*, std::size_t, std::uint64_t)>& check_head) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer before fstat can refuse it.
    Fd f(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (f.fd < 0) throw FileError(errno, path, "cannot open model file");
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) throw FileError(errno, path, "cannot read model file");
    if (!S_ISREG(st.st_mode))
        throw FileError(S_ISDIR(st.st_mode) ? EISDIR : EINVAL, path,
                        "expected a regular model file, not a folder, device or FIFO");
    const auto size = static_cast<std::uint64_t>(st.st_size);
    const std::size_t head = size < head_bytes ? static_cast<std::size_t>(size) : head_bytes;
    std::vector<std::uint8_t> bytes(head);
    read_exactly(f.fd, bytes.data(), head, path);
    check_head(bytes.data(), head, size);
    if (size > static_cast<std::uint64_t>(PTRDIFF_MAX))
        throw FileError(EFBIG, path, "model file too large for this machine");
    bytes.resize(static_cast<std::size_t>(size));  // bounded by the file's size, not by what a read returns
    read_exactly(f.fd, bytes.data() + head, bytes.size() - head, path);
    return bytes;
}

void write_file_atomically(const std::string& path, const void* data, std::size_t size) {
    struct stat st {};
    const bool exists = ::stat(path.c_str(), &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) throw FileError(EISDIR, path, "cannot write over a folder");
    if (exists && !S_ISREG(st.st_mode)) {  // a device or FIFO: nothing to replace, write into it
        Fd f(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
        if (f.fd < 0) throw FileError(errno, path, "cannot open for writing");
        write_all(f.fd, data, size, path);
        if (::close(f.release()) != 0) throw FileError(errno, path, "cannot write");
        return;
    }
    std::string tmp;
    Fd f(open_temporary(path, tmp));
    if (f.fd < 0) throw FileError(errno, path, "cannot create a temporary file beside");
    try {
        if (exists) ::fchmod(f.fd, st.st_mode & 07777);  // keep the replaced file's permissions
        write_all(f.fd, data, size, path);
        if (::fsync(f.fd) != 0) throw FileError(errno, path, "cannot write (fsync)");
        if (::close(f.release()) != 0) throw FileError(errno, path, "cannot write (close)");
        if (::rename(tmp.c_str(), path.c_str()) != 0) throw FileError(errno, path, "cannot replace");
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    // The rename itself is durable once the folder is synced (best effort: some filesystems refuse).
    Fd dir(::open(folder_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.fd >= 0) ::fsync(dir.fd);
}

}  // namespace gru_infer
