# ElastiCache Redis replication group: TLS in transit (required), encryption at rest with its
# own CMK, AUTH token read from Secrets Manager, Multi-AZ with automatic failover when it has a
# replica, reachable from the EKS nodes only.
locals {
  replicated = var.node_count > 1
}

resource "aws_kms_key" "this" {
  description             = "${var.name} ElastiCache at-rest encryption"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-redis"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_elasticache_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.database_subnet_ids
  tags       = var.tags
}

resource "aws_security_group" "this" {
  name        = "${var.name}-redis"
  description = "ElastiCache Redis: 6379 from the EKS nodes only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-redis" })
}

# count, not for_each: the list's length is known when planning, the IDs may not be.
resource "aws_vpc_security_group_ingress_rule" "redis" {
  count = length(var.allowed_security_group_ids)

  security_group_id            = aws_security_group.this.id
  referenced_security_group_id = var.allowed_security_group_ids[count.index]
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  description                  = "Redis from the EKS nodes"
}

resource "aws_elasticache_parameter_group" "this" {
  name        = "${var.name}-redis7"
  family      = "redis7"
  description = "txv: evict only keys with a TTL (caches), never counters without one"

  parameter {
    name  = "maxmemory-policy"
    value = "volatile-lru"
  }

  tags = var.tags
}

# The token is read from Secrets Manager, where the secrets module generated it; rotations
# follow docs/operations/key-rotation.md (ROTATE strategy), so Terraform ignores later changes.
data "aws_secretsmanager_secret_version" "auth" {
  secret_id = var.auth_token_secret_arn
}

resource "aws_cloudwatch_log_group" "this" {
  for_each = toset(["slow-log", "engine-log"])

  name              = "/aws/elasticache/${var.name}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = var.name
  description          = "txv shared state: counters, idempotency, rate limits, rules cache"
  engine               = "redis"
  engine_version       = var.engine_version
  node_type            = var.node_type
  port                 = 6379
  parameter_group_name = aws_elasticache_parameter_group.this.name

  num_cache_clusters          = var.node_count
  preferred_cache_cluster_azs = [for i in range(var.node_count) : var.azs[i % length(var.azs)]]
  automatic_failover_enabled  = local.replicated
  multi_az_enabled            = local.replicated

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = [aws_security_group.this.id]

  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.this.arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  auth_token                 = jsondecode(data.aws_secretsmanager_secret_version.auth.secret_string)["token"]
  auth_token_update_strategy = "ROTATE"

  snapshot_retention_limit   = var.snapshot_retention_days
  snapshot_window            = "03:00-04:00"
  maintenance_window         = "sun:05:00-sun:06:00"
  auto_minor_version_upgrade = true
  apply_immediately          = false

  dynamic "log_delivery_configuration" {
    for_each = aws_cloudwatch_log_group.this
    content {
      destination      = log_delivery_configuration.value.name
      destination_type = "cloudwatch-logs"
      log_format       = "json"
      log_type         = log_delivery_configuration.key
    }
  }

  tags = var.tags

  lifecycle {
    ignore_changes = [auth_token]
  }
}
