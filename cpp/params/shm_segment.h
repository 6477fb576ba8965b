// A named POSIX shared-memory segment, mapped read-write: created
// exclusively by one owner with mode 0600, opened by name from any thread or
// process of the same user. The segment's content is the caller's business;
// this class only names, sizes, maps and unlinks.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include <fcntl.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace flockrl {

// Wrong name or size, missing or foreign segment: a caller's error.
class ShmError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// No segment of that name.
class ShmNotFoundError : public ShmError {
 public:
  using ShmError::ShmError;
};

// The name is held by a live owner.
class ShmInUseError : public ShmError {
 public:
  using ShmError::ShmError;
};

// The system refused (permissions, out of memory, ...).
class ShmSystemError : public ShmError {
 public:
  using ShmError::ShmError;
};

class ShmSegment {
 public:
  static constexpr std::size_t kMaxNameLength = 200;

  // The POSIX name for a user-facing name; every flockrl segment shares a
  // prefix so they are easy to find in /dev/shm.
  static std::string PosixName(const std::string& name) {
    ValidateName(name);
    return "/flockrl." + name;
  }

  static void ValidateName(const std::string& name) {
    bool ok = !name.empty() && name.size() <= kMaxNameLength && name[0] != '.';
    for (char c : name) {
      ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.');
    }
    if (!ok) {
      throw ShmError("shared-memory name: expected 1-" + std::to_string(kMaxNameLength) +
                     " characters from [A-Za-z0-9_.-], not starting with '.', got '" + name + "'");
    }
  }

  ShmSegment() = default;

  // Creates the segment, failing with EEXIST (returned as false, nothing
  // created) when the name is taken. Pages are allocated and zeroed now so a
  // full /dev/shm fails here, not with SIGBUS on a later write.
  static bool TryCreate(const std::string& name, std::size_t bytes, ShmSegment* out) {
    const std::string posix = PosixName(name);
    const int fd = shm_open(posix.c_str(), O_CREAT | O_EXCL | O_RDWR, S_IRUSR | S_IWUSR);
    if (fd < 0) {
      if (errno == EEXIST) return false;
      throw ShmSystemError("cannot create shared memory '" + posix + "': " + std::strerror(errno));
    }
    // A restrictive umask can only remove bits; still, state the mode exactly.
    int err = fchmod(fd, S_IRUSR | S_IWUSR) != 0 ? errno : 0;
    if (!err) err = posix_fallocate(fd, 0, static_cast<off_t>(bytes));
    if (err) {
      close(fd);
      shm_unlink(posix.c_str());
      throw ShmSystemError("cannot allocate " + std::to_string(bytes) + " bytes of shared memory '" +
                           posix + "': " + std::strerror(err));
    }
    *out = Map(fd, bytes, posix);
    return true;
  }

  // Opens an existing segment of this user. Throws ShmError when missing,
  // owned by another user or open to others.
  static ShmSegment Open(const std::string& name) {
    const std::string posix = PosixName(name);
    const int fd = shm_open(posix.c_str(), O_RDWR, 0);
    if (fd < 0) {
      if (errno == ENOENT) throw ShmNotFoundError("no shared-memory segment '" + posix + "' (is its owner running?)");
      throw ShmSystemError("cannot open shared memory '" + posix + "': " + std::strerror(errno));
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      const int err = errno;
      close(fd);
      throw ShmSystemError("cannot stat shared memory '" + posix + "': " + std::strerror(err));
    }
    if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
      close(fd);
      throw ShmError("shared memory '" + posix + "' is not private to this user (uid " +
                     std::to_string(st.st_uid) + ", mode 0" + ModeString(st.st_mode) +
                     "); flockrl segments are mode 0600");
    }
    ShmSegment s = Map(fd, static_cast<std::size_t>(st.st_size), posix);
    s.changed_at_ = st.st_ctim.tv_sec;
    return s;
  }

  // Unlinks the name if it still refers to this segment (not to one created
  // under the same name after ours was removed).
  // True if it unlinked.
  bool UnlinkIfSame() const {
    const int fd = shm_open(posix_name_.c_str(), O_RDONLY, 0);
    if (fd < 0) return false;
    struct stat st {};
    const bool same = fstat(fd, &st) == 0 && st.st_ino == inode_;
    close(fd);
    return same && shm_unlink(posix_name_.c_str()) == 0;
  }

  // Seconds since the segment was created or resized, as of opening it.
  double AgeSeconds() const {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    return static_cast<double>(now.tv_sec - changed_at_);
  }

  ~ShmSegment() {
    if (data_) munmap(data_, size_);
  }
  ShmSegment(ShmSegment&& o) noexcept { *this = std::move(o); }
  ShmSegment& operator=(ShmSegment&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(posix_name_, o.posix_name_);
    std::swap(changed_at_, o.changed_at_);
    std::swap(inode_, o.inode_);
    return *this;
  }
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;

  uint8_t* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::string& posix_name() const { return posix_name_; }

 private:
  static ShmSegment Map(int fd, std::size_t bytes, const std::string& posix) {
    ShmSegment s;
    s.posix_name_ = posix;
    struct stat st {};
    if (fstat(fd, &st) == 0) s.inode_ = st.st_ino;
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    s.changed_at_ = now.tv_sec;
    if (bytes > 0) {
      void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        close(fd);
        throw ShmSystemError("cannot map shared memory '" + posix + "': " + std::strerror(err));
      }
      s.data_ = static_cast<uint8_t*>(p);
      s.size_ = bytes;
    }
    close(fd);  // the mapping keeps the segment alive
    return s;
  }

  static std::string ModeString(mode_t mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%o", static_cast<unsigned>(mode & 0777));
    return buf;
  }

  uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::string posix_name_;
  int64_t changed_at_ = 0;  // seconds since the epoch
  ino_t inode_ = 0;
};

}  // namespace flockrl
