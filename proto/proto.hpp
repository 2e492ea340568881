// Everything in the wire-format library, for callers that want one include.
#pragma once

#include "base/address.hpp"
#include "base/result.hpp"
#include "proto/attributes.hpp"
#include "proto/base64url.hpp"
#include "proto/binding.hpp"
#include "proto/capacity_token.hpp"
#include "proto/constants.hpp"
#include "proto/error_response.hpp"
#include "proto/errors.hpp"
#include "proto/heartbeat.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "proto/probe.hpp"
#include "proto/stream_framing.hpp"
#include "proto/turn_uri.hpp"
