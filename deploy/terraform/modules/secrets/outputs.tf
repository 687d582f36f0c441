output "secret_names" {
  description = "Secret names by purpose (chart values secrets.names)."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.name }
}

output "secret_arns" {
  description = "ARNs of all application secrets (txv's IRSA role may read exactly these)."
  value       = [for s in aws_secretsmanager_secret.this : s.arn]
}

output "redis_auth_secret_arn" {
  description = "ARN of the Redis AUTH token secret, known once its first value exists."
  value       = aws_secretsmanager_secret_version.redis.arn
}

output "kms_key_arn" {
  description = "CMK encrypting the secrets."
  value       = aws_kms_key.this.arn
}
