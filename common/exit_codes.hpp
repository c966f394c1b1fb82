#pragma once

namespace clusterd::exit_code {

inline constexpr int ok = 0;
// A runtime failure (e.g. the port is taken): worth retrying later.
inline constexpr int failure = 1;
// A configuration or boot error: retrying cannot help. The supervisor does not
// respawn a worker that exits with it (nginx uses 2 the same way), and the
// supervisor itself exits with it on a bad option.
inline constexpr int config_error = 2;

}  // namespace clusterd::exit_code
