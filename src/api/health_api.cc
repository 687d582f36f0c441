#include "api/health_api.h"

#include <chrono>

#include "api/responses.h"

namespace txv::api {

namespace json = boost::json;

HealthApi::HealthApi(Lifecycle& lifecycle, metrics::Metrics& metrics, ReadinessCheck database, ReadinessCheck cache,
                     WriteHealth* writes, ReadinessCheck probe_write)
    : lifecycle_(lifecycle),
      metrics_(metrics),
      database_(std::move(database)),
      cache_(std::move(cache)),
      writes_(writes),
      probe_write_(std::move(probe_write)) {}

void HealthApi::register_routes(http::Router& router) {
  router.add("GET", "/livez", {}, [](http::Request&) -> Task<http::Response> {
    co_return json_response(200, json::object{{"status", "ok"}});
  });
  router.add("GET", "/startupz", {}, [this](http::Request&) -> Task<http::Response> {
    bool started = lifecycle_.started.load();
    co_return json_response(started ? 200 : 503, json::object{{"status", started ? "ok" : "starting"}});
  });
  router.add("GET", "/readyz", {}, [this](http::Request&) -> Task<http::Response> {
    std::string db = co_await database_();
    std::string cache = co_await cache_();
    std::string writes = "ok";
    if (writes_ != nullptr && writes_->failing()) {
      writes = "failing";
      const std::int64_t now_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
              .count();
      constexpr std::int64_t kProbeIntervalMs = 1000;
      if (probe_write_ && now_ms - last_probe_ms_.load() >= kProbeIntervalMs && !probing_.exchange(true)) {
        last_probe_ms_.store(now_ms);
        std::string probe = co_await probe_write_();
        probing_.store(false);
        if (probe == "ok") {
          writes_->record(Ok{});
          writes = "ok";
        }
      }
    }
    // A cache that is down degrades decisions (they go on from the database) but does not stop them.
    bool ready = lifecycle_.started.load() && !lifecycle_.draining.load() && db == "ok" && writes == "ok" &&
                 (cache == "ok" || cache == "degraded");
    json::object body{{"status", ready ? "ok" : "unavailable"},
                      {"checks", json::object{{"database", db}, {"cache", cache}, {"writes", writes}}}};
    if (lifecycle_.draining.load()) body["checks"].as_object()["shutdown"] = "draining";
    if (!lifecycle_.started.load()) body["checks"].as_object()["startup"] = "starting";
    co_return json_response(ready ? 200 : 503, body);
  });
  router.add("GET", "/metrics", {}, [this](http::Request&) -> Task<http::Response> {
    http::Response r;
    r.body = metrics_.render();
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    co_return r;
  });
}

}  // namespace txv::api
