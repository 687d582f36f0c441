# Development: the same architecture as prod, sized down (~$400/month, see
# docs/operations/cost.md): one NAT gateway, burstable Graviton instances, one Redis node,
# no deletion protection, shorter log retention.
provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Service     = "txv"
      Environment = "dev"
      ManagedBy   = "terraform"
    }
  }
}

module "txv" {
  source = "../../modules/stack"

  environment = "dev"
  azs         = ["${var.region}a", "${var.region}b", "${var.region}c"]

  vpc_cidr              = "10.0.0.0/16"
  private_subnet_cidrs  = ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"]
  public_subnet_cidrs   = ["10.0.96.0/22", "10.0.100.0/22", "10.0.104.0/22"]
  database_subnet_cidrs = ["10.0.112.0/24", "10.0.113.0/24", "10.0.114.0/24"]
  single_nat_gateway    = true

  kubernetes_version      = "1.28"
  node_instance_types     = ["t4g.large"]
  node_group_per_az       = false
  node_min_size           = 2
  node_max_size           = 4
  node_desired_size       = 2
  api_public_access_cidrs = var.api_public_access_cidrs
  admin_role_arns         = var.admin_role_arns

  aurora_instance_class        = "db.t4g.medium"
  aurora_instance_count        = 2
  aurora_deletion_protection   = false
  aurora_max_connections_alarm = 300

  redis_node_type               = "cache.t4g.small"
  redis_node_count              = 1
  redis_snapshot_retention_days = 1

  waf_rate_limit_per_5m = 5000

  log_retention_days          = 30
  audit_log_retention_days    = 90
  secret_recovery_window_days = 7

  domain_name             = var.domain_name
  route53_zone_id         = var.route53_zone_id
  alarm_emails            = var.alarm_emails
  github_repository       = var.github_repository
  ecr_pull_principal_arns = var.prod_deploy_role_arn == "" ? [] : [var.prod_deploy_role_arn]
  alb_provisioned         = var.alb_provisioned
}
