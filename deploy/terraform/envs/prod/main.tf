# Production, as the seed architecture: three AZs with a NAT gateway each, Graviton node
# groups per AZ (3-12 nodes), Aurora writer + reader on r7g, Redis primary + 2 replicas with
# automatic failover, deletion protection, a year of audit logs (~$1,800/month, see
# docs/operations/cost.md).
provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Service            = "txv"
      Environment        = "prod"
      ManagedBy          = "terraform"
      DataClassification = "pci"
    }
  }
}

module "txv" {
  source = "../../modules/stack"

  environment = "prod"
  azs         = ["${var.region}a", "${var.region}b", "${var.region}c"]

  vpc_cidr              = "10.0.0.0/16"
  private_subnet_cidrs  = ["10.0.0.0/19", "10.0.32.0/19", "10.0.64.0/19"]
  public_subnet_cidrs   = ["10.0.96.0/22", "10.0.100.0/22", "10.0.104.0/22"]
  database_subnet_cidrs = ["10.0.112.0/24", "10.0.113.0/24", "10.0.114.0/24"]
  single_nat_gateway    = false

  kubernetes_version      = "1.28"
  node_instance_types     = ["m7g.xlarge"]
  node_group_per_az       = true
  node_min_size           = 1
  node_max_size           = 4
  node_desired_size       = 1
  api_public_access_cidrs = var.api_public_access_cidrs
  admin_role_arns         = var.admin_role_arns

  aurora_instance_class        = "db.r7g.large"
  aurora_instance_count        = 2
  aurora_deletion_protection   = true
  aurora_max_connections_alarm = 1400

  redis_node_type               = "cache.r7g.large"
  redis_node_count              = 3
  redis_snapshot_retention_days = 7

  waf_rate_limit_per_5m = 30000

  log_retention_days          = 90
  audit_log_retention_days    = 365
  secret_recovery_window_days = 30

  domain_name       = var.domain_name
  route53_zone_id   = var.route53_zone_id
  alarm_emails      = var.alarm_emails
  github_repository = var.github_repository
  alb_provisioned   = var.alb_provisioned
}
