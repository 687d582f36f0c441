# shellcheck shell=bash
# The benchmarks' 20-rule set (sourced): 3 velocity rules, 1 over the 100k-entry list `bench_bins`,
# 16 ordinary ones. bench_rules prints one rule body (JSON) per line.
bench_rules() {
  echo '{"name":"v1","expression":"velocity(\"card\", \"1h\").count > 1000000","action":"decline","code":"v_card"}'
  echo '{"name":"v2","expression":"velocity(\"customer\", \"24h\").amount > 900000000","action":"review","code":"v_customer"}'
  echo '{"name":"v3","expression":"velocity(\"email\", \"10m\").count > 100000","action":"review","code":"v_email"}'
  echo '{"name":"list","expression":"card.bin in list(\"bench_bins\")","action":"decline","code":"bad_bin"}'
  local i
  for i in $(seq 1 16); do
    echo '{"name":"r'$i'","expression":"amount > '$((100000 + i))' && customer.country != \"ZZ\" && merchant.mcc in [\"7995\", \"6051\"] && customer.email.endsWith(\"@bad'$i'.test\")","action":"review","code":"r'$i'"}'
  done
}
