// The daemon's log: journal or stderr.
#include "supervisor/log.hpp"

#include <fmt/format.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include <cstdio>

namespace xpcd {

namespace {

bool journal = false;  // set once at start, before the loop runs

int priority(LogLevel level) {
  switch (level) {
    case LogLevel::error: return LOG_ERR;
    case LogLevel::warning: return LOG_WARNING;
    case LogLevel::notice: return LOG_NOTICE;
    case LogLevel::info: return LOG_INFO;
    case LogLevel::debug: return LOG_DEBUG;
  }
  return LOG_INFO;
}

}  // namespace

void log_init(bool use_journal) { journal = use_journal; }

void log_line(LogLevel level, std::string_view text) {
  if (journal) {
    sd_journal_send("MESSAGE=%.*s", static_cast<int>(text.size()), text.data(), "PRIORITY=%d", priority(level), nullptr);
    return;
  }
  fmt::print(stderr, "xpcd: {}\n", text);
}

void log_job(LogLevel level, std::string_view job, std::string_view event, std::string_view text) {
  if (journal) {
    sd_journal_send("MESSAGE=%.*s: %.*s", static_cast<int>(job.size()), job.data(), static_cast<int>(text.size()),
                    text.data(), "PRIORITY=%d", priority(level), "XPCD_JOB=%.*s", static_cast<int>(job.size()),
                    job.data(), "XPCD_EVENT=%.*s", static_cast<int>(event.size()), event.data(), nullptr);
    return;
  }
  fmt::print(stderr, "xpcd: {}: {}: {}\n", job, event, text);
}

}  // namespace xpcd
