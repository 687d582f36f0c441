#include "cli/command_line.h"

#include <CLI/CLI.hpp>

#include "cli/rules_commands.h"
#include "domain/identifiers.h"

namespace txv::cli {

Result<Command> parse_command_line(int argc, const char* const* argv, const config::RawSettings& environment) {
  CLI::App app{"txv: payment transaction validator", "txv"};
  app.require_subcommand(1);
  Command cmd;
  std::string config_file;
  config::RawSettings flags;

  auto* serve = app.add_subcommand("serve", "run the HTTP server");
  auto* migrate = app.add_subcommand("migrate", "apply pending schema migrations, then exit");
  auto* apikey = app.add_subcommand("apikey", "manage API keys");
  apikey->require_subcommand(1);
  auto* create = apikey->add_subcommand("create", "create an API key; prints the secret once on stdout");
  auto* list = apikey->add_subcommand("list", "list API keys (never their secrets)");
  auto* revoke = apikey->add_subcommand("revoke", "revoke an API key on every replica (within 1 s)");
  revoke->add_option("id", cmd.key_id, "the key's id (key_...), as `apikey list` shows")->required();
  auto* labels = app.add_subcommand("labels", "ground-truth labels (talks to a running server)");
  labels->require_subcommand(1);
  auto* labels_import =
      labels->add_subcommand("import",
                             "send the labels of a CSV file (header: merchant_id,transaction_id,label,"
                             "source,reason,at) to the server; the API key comes from TXV_API_KEY");
  labels_import->add_option("file", cmd.labels_file, "the CSV file")->required();
  labels_import->add_option("--url", cmd.server_url, "the server's base URL (default http://127.0.0.1:8080)");
  auto* rules = app.add_subcommand("rules", "rules as code (talks to a running server; docs/rules-as-code.md)");
  rules->require_subcommand(1);
  auto* rules_export = rules->add_subcommand("export", "print the live rule set as YAML on stdout");
  auto* rules_plan =
      rules->add_subcommand("plan", "print what applying FILE would change and a backtest of it over --since");
  auto* rules_apply =
      rules->add_subcommand("apply", "replace the live rule set by FILE (If-Match: FILE's rules_version)");
  rules_plan->add_option("file", cmd.rules_file, "the rules YAML file")->required();
  rules_apply->add_option("file", cmd.rules_file, "the rules YAML file")->required();
  std::string since = "7d";
  rules_plan->add_option("--since", since, "the history to backtest over: Nd, Nh or Nm (default 7d)");
  for (auto* sub : {rules_export, rules_plan, rules_apply}) {
    sub->add_option("--url", cmd.server_url, "the server's base URL (default http://127.0.0.1:8080)");
  }
  app.add_subcommand("version", "print the version");

  for (auto* sub : {serve, migrate, create, list, revoke}) {
    sub->add_option("--config", config_file, "YAML file with settings (keys: listen, database_url, ...)");
  }
  for (const auto& s : config::settings()) {
    std::string env = s.env;
    auto* target = serve;
    serve->add_option_function<std::string>(
        "--" + config::flag_name(env), [&flags, env](const std::string& v) { flags[env] = v; }, s.help);
    if (env == "TXV_DATABASE_URL" || env == "TXV_LOG_LEVEL") {
      for (auto* sub : {migrate, create, list, revoke}) {
        sub->add_option_function<std::string>(
            "--" + config::flag_name(env), [&flags, env](const std::string& v) { flags[env] = v; }, s.help);
      }
    }
    (void)target;
  }
  serve->add_flag("--no-migrate", cmd.no_migrate, "do not apply migrations at start");
  std::string role;
  create->add_option("--role", role, "admin, analyst or validator")->required();
  std::string merchant;
  create->add_option("--merchant", merchant, "restrict a validator key to this merchant_id");
  create->add_option("--name", cmd.key_name, "a name shown in the audit log");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    cmd.verb = Verb::kHelp;
    cmd.help_text = app.help();
    return cmd;
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    if (msg.empty()) msg = "invalid command line";
    return make_error("usage", msg + " (run 'txv --help')");
  }

  if (serve->parsed()) {
    cmd.verb = Verb::kServe;
  } else if (migrate->parsed()) {
    cmd.verb = Verb::kMigrate;
  } else if (create->parsed()) {
    cmd.verb = Verb::kApiKeyCreate;
    auto r = store::parse_role(role);
    if (!r) return make_error("usage", "--role: expected admin, analyst or validator");
    cmd.role = *r;
    if (!merchant.empty()) cmd.merchant_id = merchant;
    // Contract section 1: a validator key is always scoped to one merchant;
    // an admin key never is (it administers every merchant).
    if (cmd.role == store::Role::kValidator && !cmd.merchant_id) {
      return make_error("usage", "--merchant: required for a validator key (it may only validate for that merchant)");
    }
    if (cmd.role == store::Role::kAdmin && cmd.merchant_id) {
      return make_error("usage", "--merchant: not allowed for an admin key (admin keys act for every merchant)");
    }
    if (cmd.merchant_id && !domain::is_valid_id(*cmd.merchant_id)) {
      return make_error("usage", "--merchant: 1-64 characters of A-Z a-z 0-9 . _ : -");
    }
  } else if (list->parsed()) {
    cmd.verb = Verb::kApiKeyList;
  } else if (revoke->parsed()) {
    cmd.verb = Verb::kApiKeyRevoke;
  } else if (labels_import->parsed()) {
    // Talks to a server over HTTP: no database or server settings are read.
    cmd.verb = Verb::kLabelsImport;
    return cmd;
  } else if (rules_export->parsed()) {
    cmd.verb = Verb::kRulesExport;
    return cmd;
  } else if (rules_plan->parsed()) {
    cmd.verb = Verb::kRulesPlan;
    auto s = parse_since(since);
    if (!s.ok()) return Error(s.error());
    cmd.since = *s;
    return cmd;
  } else if (rules_apply->parsed()) {
    cmd.verb = Verb::kRulesApply;
    return cmd;
  } else {
    cmd.verb = Verb::kVersion;
    return cmd;
  }

  std::vector<config::RawSettings> layers;
  if (!config_file.empty()) {
    auto yaml = config::settings_from_yaml_file(config_file);
    if (!yaml.ok()) return Error(yaml.error());
    layers.push_back(std::move(yaml).value());
  }
  layers.push_back(environment);
  layers.push_back(flags);
  auto config = config::load_config(layers);
  if (!config.ok()) return Error(config.error());
  cmd.config = std::move(config).value();
  return cmd;
}

}  // namespace txv::cli
