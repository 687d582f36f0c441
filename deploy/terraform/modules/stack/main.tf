# One txv environment: the seed architecture's boxes, wired together. envs/dev and envs/prod
# call this with their sizes; nothing here differs between environments.
data "aws_region" "current" {}

locals {
  name     = "txv-${var.environment}"
  alb_name = "txv-${var.environment}"
}

module "observability" {
  source = "../observability"

  name                         = local.name
  alarm_emails                 = var.alarm_emails
  app_log_retention_days       = var.log_retention_days
  alb_name                     = local.alb_name
  alb_alarms_enabled           = var.alb_provisioned
  aurora_cluster_id            = module.aurora.cluster_id
  aurora_reader_count          = var.aurora_instance_count - 1
  aurora_max_connections_alarm = var.aurora_max_connections_alarm
  redis_node_ids               = module.redis.member_cluster_ids
}

module "network" {
  source = "../network"

  name                    = local.name
  cidr                    = var.vpc_cidr
  azs                     = var.azs
  public_subnet_cidrs     = var.public_subnet_cidrs
  private_subnet_cidrs    = var.private_subnet_cidrs
  database_subnet_cidrs   = var.database_subnet_cidrs
  single_nat_gateway      = var.single_nat_gateway
  cluster_name            = local.name
  flow_log_retention_days = var.log_retention_days
  log_kms_key_arn         = module.observability.kms_key_arn
}

module "secrets" {
  source = "../secrets"

  name                 = "txv/${var.environment}"
  recovery_window_days = var.secret_recovery_window_days
}

module "eks" {
  source = "../eks"

  name                = local.name
  kubernetes_version  = var.kubernetes_version
  vpc_id              = module.network.vpc_id
  private_subnet_ids  = module.network.private_subnet_ids
  public_access_cidrs = var.api_public_access_cidrs
  node_instance_types = var.node_instance_types
  node_group_per_az   = var.node_group_per_az
  node_min_size       = var.node_min_size
  node_max_size       = var.node_max_size
  node_desired_size   = var.node_desired_size
  log_retention_days  = var.log_retention_days
  log_kms_key_arn     = module.observability.kms_key_arn
  app_namespace       = var.app_namespace
  app_secret_arns     = module.secrets.secret_arns
  app_kms_key_arns    = [module.secrets.kms_key_arn]

  application_log_group_arn = module.observability.application_log_group_arn
  alarm_topic_arn           = module.observability.alarm_topic_arn
  alarm_topic_kms_key_arn   = module.observability.kms_key_arn

  admin_role_arns   = var.admin_role_arns
  deployer_role_arn = module.ci.deploy_role_arn
}

module "aurora" {
  source = "../aurora"

  name                       = local.name
  vpc_id                     = module.network.vpc_id
  database_subnet_ids        = module.network.database_subnet_ids
  azs                        = module.network.azs
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  instance_class             = var.aurora_instance_class
  instance_count             = var.aurora_instance_count
  backup_retention_days      = 7
  deletion_protection        = var.aurora_deletion_protection
  log_retention_days         = var.log_retention_days
  log_kms_key_arn            = module.observability.kms_key_arn
}

module "redis" {
  source = "../redis"

  name                       = local.name
  vpc_id                     = module.network.vpc_id
  database_subnet_ids        = module.network.database_subnet_ids
  azs                        = module.network.azs
  allowed_security_group_ids = [module.eks.cluster_security_group_id]
  node_type                  = var.redis_node_type
  node_count                 = var.redis_node_count
  auth_token_secret_arn      = module.secrets.redis_auth_secret_arn
  snapshot_retention_days    = var.redis_snapshot_retention_days
  log_retention_days         = var.log_retention_days
  log_kms_key_arn            = module.observability.kms_key_arn
}

module "waf" {
  source = "../waf"

  name               = local.name
  rate_limit_per_5m  = var.waf_rate_limit_per_5m
  log_retention_days = var.log_retention_days
  log_kms_key_arn    = module.observability.kms_key_arn
}

module "certificate" {
  source = "../certificate"

  domain_name     = var.domain_name
  route53_zone_id = var.route53_zone_id
}

module "cloudtrail" {
  source = "../cloudtrail"

  name                      = local.name
  cloudwatch_retention_days = var.audit_log_retention_days
  log_kms_key_arn           = module.observability.kms_key_arn
}

module "ci" {
  source = "../ci"

  name                        = local.name
  environment                 = var.environment
  github_repository           = var.github_repository
  create_github_oidc_provider = var.create_github_oidc_provider
  pull_principal_arns         = var.ecr_pull_principal_arns
  cluster_arn                 = module.eks.cluster_arn
  helm_values_parameter_arn   = aws_ssm_parameter.helm_values.arn
}

# Terraform's half of the Helm values (deploy/helm/txv/values.yaml documents each key). The
# pipeline reads the parameter; people run `terraform output -raw helm_values_yaml`.
locals {
  helm_values = {
    image = {
      repository = module.ci.ecr_repository_url
    }
    serviceAccount = {
      roleArn = module.eks.txv_irsa_role_arn
    }
    database = {
      host       = module.aurora.writer_endpoint
      readerHost = module.aurora.reader_endpoint
      port       = module.aurora.port
      name       = module.aurora.database_name
    }
    redis = {
      host = module.redis.primary_endpoint
      port = module.redis.port
    }
    secrets = {
      region = data.aws_region.current.name
      names = {
        database        = module.secrets.secret_names["database"]
        redis           = module.secrets.secret_names["redis"]
        panKey          = module.secrets.secret_names["pan-key"]
        smokeTestApiKey = module.secrets.secret_names["smoke-test-api-key"]
      }
    }
    ingress = {
      host             = var.domain_name
      loadBalancerName = local.alb_name
      certificateArn   = module.certificate.certificate_arn
      wafAclArn        = module.waf.web_acl_arn
    }
    networkPolicy = {
      albSourceCidrs = module.network.public_subnet_cidrs
      databaseCidrs  = module.network.database_subnet_cidrs
    }
  }
}

resource "aws_ssm_parameter" "helm_values" {
  name        = "/txv/${var.environment}/helm-values"
  description = "Helm values produced by Terraform for the txv chart (no secrets)"
  type        = "String"
  tier        = "Advanced"
  value       = yamlencode(local.helm_values)
}

# The API's DNS name, once the ALB exists (the AWS Load Balancer Controller creates it).
data "aws_lb" "ingress" {
  count = var.alb_provisioned ? 1 : 0
  name  = local.alb_name
}

resource "aws_route53_record" "api" {
  count = var.alb_provisioned ? 1 : 0

  zone_id = var.route53_zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = data.aws_lb.ingress[0].dns_name
    zone_id                = data.aws_lb.ingress[0].zone_id
    evaluate_target_health = true
  }
}
