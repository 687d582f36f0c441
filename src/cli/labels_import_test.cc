#include "cli/labels_import.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

namespace txv::cli {
namespace {

namespace json = boost::json;

// A fake server: refuses labels whose transaction_id starts with "bad" (not_found)
// or whose label is not fraud/not_fraud (validation_failed), accepts the rest.
struct FakeServer {
  std::vector<json::array> batches;
  int status = 200;
  Result<HttpAnswer> operator()(const std::string& body) {
    json::value doc = json::parse(body);
    const json::array& labels = doc.at("labels").as_array();
    batches.push_back(labels);
    if (status != 200) return HttpAnswer{status, R"({"error":{"code":"forbidden","message":"no","details":[]}})"};
    json::array results;
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const auto& o = labels[i].as_object();
      const std::string label(o.at("label").as_string());
      if (label != "fraud" && label != "not_fraud") {
        results.push_back(
            json::parse(R"({"error":{"code":"validation_failed","message":"m","details":[{"field":"labels[)" +
                        std::to_string(i) + R"(].label","issue":"invalid_value"}]}})"));
      } else if (std::string(o.at("transaction_id").as_string()).starts_with("bad")) {
        results.push_back(json::parse(R"({"error":{"code":"not_found","message":"m","details":[]}})"));
      } else {
        results.push_back(json::parse(R"({"ok":true})"));
      }
    }
    return HttpAnswer{200, json::serialize(json::object{{"results", results}})};
  }
};

int run(const std::string& csv, FakeServer& server, std::string& out, std::string& err, std::size_t batch = 2) {
  std::istringstream in(csv);
  std::ostringstream o, e;
  LabelsImportOptions options;
  options.batch_size = batch;
  int code = import_labels(
      in, [&](const std::string& b) { return server(b); }, options, o, e);
  out = o.str();
  err = e.str();
  return code;
}

TEST(LabelsImport, AllAcceptedInBatchesExitZero) {
  FakeServer server;
  std::string out, err;
  int code =
      run("merchant_id,transaction_id,label,source\nm,t1,fraud,chargeback\nm,t2,not_fraud,manual\n"
          "m,t3,fraud,manual\n",
          server, out, err);
  EXPECT_EQ(code, 0) << err;
  EXPECT_EQ(out, "3 rows accepted, 0 rows refused\n");
  ASSERT_EQ(server.batches.size(), 2u);  // batches of 2: streamed, not one request
  EXPECT_EQ(server.batches[0].size(), 2u);
  EXPECT_FALSE(server.batches[0][0].as_object().contains("reason"));
}

TEST(LabelsImport, RefusedRowsAreListedWithTheirLinesAndCodes) {
  FakeServer server;
  std::string out, err;
  int code =
      run("at,reason,source,label,transaction_id,merchant_id\n"
          ",\"chargeback, \"\"disputed\"\"\",chargeback,fraud,t1,m\n"
          ",,manual,maybe,t2,m\n"
          "2026-11-20T10:00:00Z,\"multi\nline\",manual,fraud,bad-1,m\n"
          "only,two\n"
          ",,manual,fraud,t5,m\n",
          server, out, err, 1000);
  EXPECT_EQ(code, 1);
  EXPECT_EQ(out,
            "2 rows accepted, 3 rows refused\n"
            "line 3: validation_failed (label: invalid_value)\n"
            "line 4: not_found\n"
            "line 6: invalid_csv (expected 6 fields, found 2)\n");
  ASSERT_EQ(server.batches.size(), 1u);
  const auto& first = server.batches[0][0].as_object();
  EXPECT_EQ(first.at("reason").as_string(), "chargeback, \"disputed\"");
  EXPECT_FALSE(first.contains("at"));
  EXPECT_EQ(server.batches[0][2].as_object().at("at").as_string(), "2026-11-20T10:00:00Z");
}

TEST(LabelsImport, BadHeaderSendsNothing) {
  FakeServer server;
  std::string out, err;
  EXPECT_EQ(run("merchant_id,transaction_id,label\nm,t,fraud\n", server, out, err), 1);
  EXPECT_NE(err.find("source"), std::string::npos) << err;
  EXPECT_EQ(run("merchant_id,transaction_id,label,source,colour\n", server, out, err), 1);
  EXPECT_NE(err.find("colour"), std::string::npos) << err;
  EXPECT_EQ(run("", server, out, err), 1);
  EXPECT_TRUE(server.batches.empty());
}

TEST(LabelsImport, ARefusedBatchStopsTheImport) {
  FakeServer server;
  server.status = 403;
  std::string out, err;
  EXPECT_EQ(run("merchant_id,transaction_id,label,source\nm,t1,fraud,manual\nm,t2,fraud,manual\nm,t3,fraud,manual\n",
                server, out, err),
            1);
  EXPECT_EQ(server.batches.size(), 1u);
  EXPECT_NE(err.find("forbidden"), std::string::npos) << err;
  EXPECT_NE(err.find("line 2"), std::string::npos) << err;
  EXPECT_EQ(out, "0 rows accepted, 0 rows refused\n");
}

TEST(LabelsImport, MalformedCsvSendsWhatCameBeforeThenStops) {
  FakeServer server;
  std::string out, err;
  EXPECT_EQ(
      run("merchant_id,transaction_id,label,source\nm,t1,fraud,manual\nm,\"t2,fraud,manual\n", server, out, err, 10),
      1);
  ASSERT_EQ(server.batches.size(), 1u);
  EXPECT_EQ(out, "1 rows accepted, 0 rows refused\n");
  EXPECT_NE(err.find("line 3"), std::string::npos) << err;
}

}  // namespace
}  // namespace txv::cli
