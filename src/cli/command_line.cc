#include "cli/command_line.h"

#include <CLI/CLI.hpp>

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
  app.add_subcommand("version", "print the version");

  for (auto* sub : {serve, migrate, create}) {
    sub->add_option("--config", config_file, "YAML file with settings (keys: listen, database_url, ...)");
  }
  for (const auto& s : config::settings()) {
    std::string env = s.env;
    auto* target = serve;
    serve->add_option_function<std::string>(
        "--" + config::flag_name(env), [&flags, env](const std::string& v) { flags[env] = v; }, s.help);
    if (env == "TXV_DATABASE_URL" || env == "TXV_LOG_LEVEL") {
      for (auto* sub : {migrate, create}) {
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
