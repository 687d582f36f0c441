#include "cache/redis/redis_session_store.h"

#include "common/text.h"

namespace txv::cache {
namespace {

std::int64_t to_ms(store::TimePoint t) { return t.time_since_epoch().count(); }
store::TimePoint from_ms(std::int64_t v) { return store::TimePoint(std::chrono::milliseconds(v)); }

const RedisScript& create_script() {
  static const RedisScript script(R"lua(
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'key_hash', ARGV[1], 'csrf', ARGV[2], 'created', ARGV[3], 'expires', ARGV[4],
           'last_seen', ARGV[5])
redis.call('PEXPIREAT', KEYS[1], math.min(tonumber(ARGV[4]), tonumber(ARGV[5]) + tonumber(ARGV[6])))
return 1
)lua");
  return script;
}

const RedisScript& touch_script() {
  static const RedisScript script(R"lua(
local s = redis.call('HMGET', KEYS[1], 'expires', 'last_seen')
local expires, last = tonumber(s[1]), tonumber(s[2])
if expires == nil or last == nil then return 0 end
local at = tonumber(ARGV[1])
if at > last then
  redis.call('HSET', KEYS[1], 'last_seen', ARGV[1])
  last = at
end
redis.call('PEXPIREAT', KEYS[1], math.min(expires, last + tonumber(ARGV[2])))
return 1
)lua");
  return script;
}

// HGETALL's flat [field, value, ...] reply as a session; an empty reply is no session.
Result<std::optional<store::Session>> decode(const std::string& id_hash, const RedisValue& reply) {
  if (!reply.is_array() || reply.elements.size() % 2 != 0) {
    return make_error("internal", "redis: unexpected reply reading a session");
  }
  if (reply.elements.empty()) return std::optional<store::Session>{};
  store::Session s;
  s.id_hash = id_hash;
  std::optional<std::int64_t> created, expires, last_seen;
  for (std::size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    const std::string& field = reply.elements[i].str;
    const std::string& value = reply.elements[i + 1].str;
    if (field == "key_hash") s.key_hash = value;
    if (field == "csrf") s.csrf_token = value;
    if (field == "created") created = parse_int64(value);
    if (field == "expires") expires = parse_int64(value);
    if (field == "last_seen") last_seen = parse_int64(value);
  }
  if (s.key_hash.empty() || s.csrf_token.empty() || !created || !expires || !last_seen) {
    return make_error("internal", "redis: a stored session is malformed");
  }
  s.created_at = from_ms(*created);
  s.expires_at = from_ms(*expires);
  s.last_seen_at = from_ms(*last_seen);
  return std::optional<store::Session>{std::move(s)};
}

}  // namespace

RedisSessionStore::RedisSessionStore(RedisClient& client, RedisSessionStoreOptions options)
    : client_(client), options_(std::move(options)) {}

Task<Status> RedisSessionStore::create_session(const store::Session& session, std::chrono::milliseconds idle_timeout) {
  std::vector<std::string> keys{options_.key_prefix + session.id_hash};
  std::vector<std::string> args{session.key_hash,
                                session.csrf_token,
                                std::to_string(to_ms(session.created_at)),
                                std::to_string(to_ms(session.expires_at)),
                                std::to_string(to_ms(session.last_seen_at)),
                                std::to_string(idle_timeout.count())};
  auto r = co_await client_.eval(create_script(), std::move(keys), std::move(args));
  if (!r.ok()) co_return r.error();
  co_return Ok{};
}

Task<Result<std::optional<store::Session>>> RedisSessionStore::find_session(const std::string& id_hash) {
  std::vector<std::string> command{"HGETALL", options_.key_prefix + id_hash};
  auto r = co_await client_.command(std::move(command));
  if (!r.ok()) co_return r.error();
  co_return decode(id_hash, *r);
}

Task<Status> RedisSessionStore::touch_session(const std::string& id_hash, store::TimePoint at,
                                              std::chrono::milliseconds idle_timeout) {
  std::vector<std::string> keys{options_.key_prefix + id_hash};
  std::vector<std::string> args{std::to_string(to_ms(at)), std::to_string(idle_timeout.count())};
  auto r = co_await client_.eval(touch_script(), std::move(keys), std::move(args));
  if (!r.ok()) co_return r.error();
  if (r->integer != 1) co_return make_error("not_found", "no such session");
  co_return Ok{};
}

Task<Status> RedisSessionStore::delete_session(const std::string& id_hash) {
  std::vector<std::string> command{"DEL", options_.key_prefix + id_hash};
  auto r = co_await client_.command(std::move(command));
  if (!r.ok()) co_return r.error();
  co_return Ok{};
}

}  // namespace txv::cache
