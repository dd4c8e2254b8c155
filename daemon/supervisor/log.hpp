// The daemon's log: the journal with structured fields (XPCD_JOB=,
// XPCD_EVENT=) when journald is there, else one line on stderr. Decisions
// are logged once, where they are made (STYLE 7).
#pragma once

#include <string>
#include <string_view>

namespace xpcd {

enum class LogLevel { error, warning, notice, info, debug };

void log_init(bool use_journal);
void log_line(LogLevel level, std::string_view text);
void log_job(LogLevel level, std::string_view job, std::string_view event, std::string_view text);

}  // namespace xpcd
