#include "api/mapping/error_json.h"

#include <boost/json.hpp>

namespace txv::api {

boost::json::object error_object(const Error& e) {
  boost::json::array details;
  details.reserve(e.details.size());
  for (const auto& d : e.details) details.emplace_back(boost::json::object{{"field", d.field}, {"issue", d.issue}});
  boost::json::object inner;
  inner["code"] = to_string(e.code);
  inner["message"] = e.message;
  inner["details"] = std::move(details);
  boost::json::object out;
  out["error"] = std::move(inner);
  return out;
}

std::string render_error(const Error& e) { return boost::json::serialize(error_object(e)); }

}  // namespace txv::api
