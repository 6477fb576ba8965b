// Checksummed binary files written atomically: the writer fills a temporary
// file beside the target, fsyncs it and renames it over the target, so a
// crash mid-save leaves the previous file intact; the reader checks length
// and checksum before anything is used.
//
// Layout: the caller's bytes, then an 8-byte FNV-1a 64 of them. Integers are
// stored in the machine's byte order (little-endian on every platform the
// project builds for).
#pragma once

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

namespace flockrl {

// The file's content is wrong (foreign, truncated, corrupt, incompatible).
class BinaryFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The file could not be opened, written or renamed.
class FileIoError : public BinaryFileError {
 public:
  using BinaryFileError::BinaryFileError;
};

inline uint64_t Fnv1a(uint64_t hash, const void* data, std::size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (std::size_t i = 0; i < n; ++i) hash = (hash ^ p[i]) * 0x100000001b3ull;
  return hash;
}

class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp.XXXXXX") {
    // A fresh, exclusive name per writer: concurrent saves to one path never
    // share a temporary file.
    const int fd = mkstemp(tmp_.data());
    if (fd < 0 || !(file_ = fdopen(fd, "wb"))) {
      if (fd >= 0) close(fd);
      throw FileIoError("cannot write " + tmp_ + ": " + std::strerror(errno));
    }
  }

  ~AtomicFileWriter() {
    if (file_) {  // not committed: leave the target alone
      std::fclose(file_);
      std::remove(tmp_.c_str());
    }
  }

  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void Write(const void* data, std::size_t n) {
    hash_ = Fnv1a(hash_, data, n);
    if (n && std::fwrite(data, 1, n, file_) != n) throw FileIoError("write to " + tmp_ + " failed");
  }
  template <typename T>
  void Put(const T& value) {
    Write(&value, sizeof(T));
  }
  void PutString(const std::string& s) {
    Put(static_cast<uint32_t>(s.size()));
    Write(s.data(), s.size());
  }

  // Appends the checksum, flushes to disk and renames over the target.
  void Commit() {
    const uint64_t hash = hash_;
    if (std::fwrite(&hash, 1, sizeof(hash), file_) != sizeof(hash) || std::fflush(file_) != 0 ||
        fsync(fileno(file_)) != 0) {
      throw FileIoError("write to " + tmp_ + " failed: " + std::strerror(errno));
    }
    std::fclose(file_);
    file_ = nullptr;
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const std::string why = std::strerror(errno);
      std::remove(tmp_.c_str());
      throw FileIoError("cannot rename " + tmp_ + " to " + path_ + ": " + why);
    }
    // Make the rename itself durable.
    const std::size_t slash = path_.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash == 0 ? 1 : slash);
    const int fd = open(dir.c_str(), O_RDONLY);
    if (fd >= 0) {
      fsync(fd);
      close(fd);
    }
  }

 private:
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  uint64_t hash_ = 0xcbf29ce484222325ull;
};

// Reads a file written by AtomicFileWriter: VerifyChecksum() streams over it
// once, then Read/Get consume it from the start. Nothing is held in memory
// beyond what the caller reads.
class FileReader {
 public:
  explicit FileReader(const std::string& path) : path_(path), file_(std::fopen(path.c_str(), "rb")) {
    if (!file_) throw FileIoError("cannot read " + path + ": " + std::strerror(errno));
    const long end = std::fseek(file_, 0, SEEK_END) == 0 ? std::ftell(file_) : -1;
    if (end < 0 || end == LONG_MAX) {  // e.g. a directory
      std::fclose(file_);
      throw FileIoError("cannot read " + path + ": not a regular file");
    }
    size_ = static_cast<std::size_t>(end);
    std::rewind(file_);
  }
  ~FileReader() { std::fclose(file_); }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  std::size_t size() const { return size_; }

  // Whether the last 8 bytes are the checksum of all before them.
  bool VerifyChecksum() {
    if (size_ < 8) return false;
    std::rewind(file_);
    uint64_t hash = 0xcbf29ce484222325ull;
    std::vector<uint8_t> chunk(1 << 20);
    for (std::size_t left = size_ - 8; left > 0;) {
      const std::size_t n = std::fread(chunk.data(), 1, std::min(left, chunk.size()), file_);
      if (n == 0) return false;
      hash = Fnv1a(hash, chunk.data(), n);
      left -= n;
    }
    uint64_t stored = 0;
    const bool ok = std::fread(&stored, 1, 8, file_) == 8 && stored == hash;
    std::rewind(file_);
    return ok;
  }

  void Read(void* out, std::size_t n) {
    if (n && std::fread(out, 1, n, file_) != n) {
      throw BinaryFileError(path_ + " is truncated (" + std::to_string(size_) + " bytes)");
    }
  }
  template <typename T>
  T Get() {
    T value;
    Read(&value, sizeof(T));
    return value;
  }
  std::string GetString() {
    const auto n = Get<uint32_t>();
    if (n > size_) throw BinaryFileError(path_ + " is corrupt: a string longer than the file");
    std::string s(n, '\0');
    Read(s.data(), n);
    return s;
  }

 private:
  std::string path_;
  std::FILE* file_;
  std::size_t size_ = 0;
};

}  // namespace flockrl
