// Who owns a resource across processes: a pid plus the process's start time,
// so a pid reused by an unrelated process after a crash is not mistaken for
// the owner.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

namespace flockrl {

struct ProcessIdentity {
  int64_t pid = 0;
  uint64_t start_time = 0;  // clock ticks since boot (/proc/<pid>/stat field 22); 0 if unknown

  static ProcessIdentity Self() { return {static_cast<int64_t>(getpid()), StartTimeOf(getpid())}; }

  // True unless the process is certainly gone (no such pid, or the pid now
  // belongs to a process started at another time).
  bool IsAlive() const {
    if (pid <= 0) return false;
    if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
    const uint64_t now = StartTimeOf(static_cast<pid_t>(pid));
    return start_time == 0 || now == 0 || now == start_time;
  }

  static uint64_t StartTimeOf(pid_t pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    std::FILE* f = std::fopen(path, "r");
    if (!f) return 0;
    char buf[1024];
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    // The command name (field 2) may hold spaces and parentheses: fields
    // after it start past the last ')'. starttime is field 22.
    const char* p = std::strrchr(buf, ')');
    if (!p) return 0;
    int field = 2;
    for (++p; *p && field < 22; ++p) {
      if (*p == ' ') ++field;
    }
    unsigned long long value = 0;
    return std::sscanf(p, " %llu", &value) == 1 ? value : 0;
  }
};

}  // namespace flockrl
