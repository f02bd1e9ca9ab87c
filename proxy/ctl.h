// `turnout ctl`: release tooling's command line for the admin API. A tiny blocking
// HTTP/1.1 client; exit codes made for CI pipelines.
#pragma once

namespace turnout {

// Exit codes of `turnout ctl`.
inline constexpr int kCtlOk = 0;        // Done (also: nothing needed changing).
inline constexpr int kCtlRejected = 1;  // The proxy refused the change; the errors are printed.
inline constexpr int kCtlUsage = 2;     // Bad arguments, no connection, or not authorized.

// Runs `turnout ctl ...`; argv[0] is "ctl". Prints results to stdout, problems to stderr.
int runCtl(int argc, char** argv);

}  // namespace turnout
