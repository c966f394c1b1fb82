// The configuration as the supervisor hands it to a child (--accepted-config,
// common/child_contract.hpp): every field of Config a child uses, in one
// fixed order, as text a child reads back without an option table. Reading
// the accepted options through CLI11 again cost a worker 2.4 M instructions
// of its 5.2 M-instruction start (CLI11 checks each option's names against
// all the others, docs/BENCHMARKS.md "Cold start"); this costs a few
// thousand. The supervisor alone parses and validates options; a child
// takes the values it was given.
//
// Format: "clusterd-config-1 ", then each field: a number as decimal
// digits and a space, a string as its length, ':' and its bytes. The
// contract's own fields (role, slot, generation, supervisor pid, listening
// sockets) and the command roles' fields are not in it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/config.hpp"

namespace clusterd {

[[nodiscard]] std::string encode_config(const Config& config);

// nullopt for text that encode_config of this binary did not write.
[[nodiscard]] std::optional<Config> decode_config(std::string_view text);

}  // namespace clusterd
