// One embedded schema migration. The SQL files live in
// src/store/migrations/<backend>/NNNN_name.sql and are compiled into the
// binary by txv_embed_migrations() (embed_migrations.cmake); each back-end
// exposes its ordered list, e.g. store::sqlite_migrations().
#pragma once

namespace txv::store {

struct Migration {
  int version;       // NNNN from the file name; strictly increasing, from 1, no gaps
  const char* name;  // file name without ".sql", e.g. "0001_init"
  const char* sql;   // the whole file; may hold several statements
};

}  // namespace txv::store
