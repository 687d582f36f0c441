# Application secrets in Secrets Manager, encrypted with their own CMK:
#   <name>/database            {"username": "txv_app", "password": ...}  generated here
#   <name>/redis               {"token": ...}                            generated here (ElastiCache AUTH)
#   <name>/pan-key             the card fingerprint key                   put by an operator, never in state
#   <name>/smoke-test-api-key  validator key for `helm test`              put by an operator
# Generated values are initial values only: rotations happen outside Terraform
# (docs/operations/key-rotation.md), which therefore ignores changes to them.
resource "aws_kms_key" "this" {
  description             = "${var.name} application secrets"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${replace(var.name, "/", "-")}-secrets"
  target_key_id = aws_kms_key.this.key_id
}

locals {
  secrets = {
    database           = "PostgreSQL credentials of the application user (JSON username, password)"
    redis              = "ElastiCache AUTH token (JSON token)"
    pan-key            = "Card fingerprint HMAC key, 64 hex characters (docs/operations/key-rotation.md)"
    smoke-test-api-key = "Validator API key restricted to merchant helm-smoke-test, used by helm test"
  }
}

resource "aws_secretsmanager_secret" "this" {
  for_each = local.secrets

  name                    = "${var.name}/${each.key}"
  description             = each.value
  kms_key_id              = aws_kms_key.this.arn
  recovery_window_in_days = var.recovery_window_days
  tags                    = var.tags
}

# Alphanumeric only: the values end up inside postgresql:// and rediss:// URLs.
data "aws_secretsmanager_random_password" "database" {
  password_length     = 40
  exclude_punctuation = true
}

data "aws_secretsmanager_random_password" "redis" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "database" {
  secret_id = aws_secretsmanager_secret.this["database"].id
  secret_string = jsonencode({
    username = "txv_app"
    password = data.aws_secretsmanager_random_password.database.random_password
  })

  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_secretsmanager_secret_version" "redis" {
  secret_id     = aws_secretsmanager_secret.this["redis"].id
  secret_string = jsonencode({ token = data.aws_secretsmanager_random_password.redis.random_password })

  lifecycle {
    ignore_changes = [secret_string]
  }
}
