// The one error shape of the API (contract section 2):
// {"error":{"code":…,"message":…,"details":[{"field":…,"issue":…}]}}
// `details` is always present, [] when empty.
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "common/result.h"

namespace txv::api {

// The whole {"error": {...}} object, e.g. for one item of a batch answer.
boost::json::object error_object(const Error& e);

// error_object(e) serialized: the body of an error response.
std::string render_error(const Error& e);

}  // namespace txv::api
