// Console sessions in Redis (replica mode, contract section 13): any replica
// serves any session, and a session outlives the replica that created it.
//
// One hash per session, `<prefix><id_hash>`, with fields key_hash, csrf,
// created, expires, last_seen (milliseconds since the epoch). Its Redis expiry
// is the session's end, min(expires, last_seen + idle timeout), moved by
// touch_session(), so Redis forgets ended sessions by itself. Creation and
// touch are Lua scripts: atomic, and a touch never moves last_seen back.
//
// Thread-safety: as RedisClient (any thread, concurrently). The client must
// outlive the store. Errors: "unavailable" when Redis is unreachable (a
// session cannot be checked: the caller answers 503, never lets it through),
// "internal" for a malformed stored session, "not_found" from touch_session.
#pragma once

#include <string>

#include "cache/redis/redis_client.h"
#include "store/stores.h"

namespace txv::cache {

struct RedisSessionStoreOptions {
  std::string key_prefix = "txv:session:";
};

class RedisSessionStore final : public store::SessionStore {
 public:
  RedisSessionStore(RedisClient& client, RedisSessionStoreOptions options);

  Task<Status> create_session(const store::Session& session, std::chrono::milliseconds idle_timeout) override;
  Task<Result<std::optional<store::Session>>> find_session(const std::string& id_hash) override;
  Task<Status> touch_session(const std::string& id_hash, store::TimePoint at,
                             std::chrono::milliseconds idle_timeout) override;
  Task<Status> delete_session(const std::string& id_hash) override;

 private:
  RedisClient& client_;
  const RedisSessionStoreOptions options_;
};

}  // namespace txv::cache
