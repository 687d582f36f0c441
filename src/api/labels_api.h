// Handlers of contract section 9 (labels): one label on a transaction, and a
// batch of up to 10,000. Registered by TransactionsApi (the transaction
// routes); request/response mapping only, the history lives in store::LabelStore.
#pragma once

#include <boost/json.hpp>

#include "api/access.h"
#include "http/router.h"
#include "store/stores.h"

namespace txv::api {

class LabelsApi {
 public:
  // `transactions` tells an unknown transaction from one without labels.
  LabelsApi(store::LabelStore& labels, store::TransactionStore& transactions)
      : labels_(labels), transactions_(transactions) {}

  void register_routes(http::Router& router);

  // POST /v1/transactions/{merchant_id}/{transaction_id}/labels → 201 with the label.
  Task<http::Response> add(http::Request& request);
  // POST /v1/labels/batch → 200 {"results": [{"ok": true} | {"error": {…}}]}, in order.
  // GET /v1/transactions/{merchant_id}/{transaction_id}/labels → 200 {"items": [label…]}:
  // the whole history, oldest first by (at, stored order), each label as add() answers it.
  Task<http::Response> history(http::Request& request);
  Task<http::Response> add_batch(http::Request& request);

  store::LabelStore& store() { return labels_; }

  // A batch of the most items (store::LabelStore::kMaxBatch) with every
  // field at its longest fits this body limit (contract section 2: the large
  // limit applies only once the key was authorised for the route).
  static constexpr std::size_t kMaxBatchBody = 32 * 1024 * 1024;

 private:
  store::LabelStore& labels_;
  store::TransactionStore& transactions_;
};

}  // namespace txv::api
