output "helm_values_yaml" {
  description = "Helm values for the txv chart: helm upgrade ... -f values-<env>.yaml -f <(terraform output -raw helm_values_yaml)."
  value       = yamlencode(local.helm_values)
}

output "helm_values_parameter" {
  description = "SSM parameter holding the same values (read by the pipeline)."
  value       = aws_ssm_parameter.helm_values.name
}

output "cluster_name" {
  description = "EKS cluster name."
  value       = module.eks.cluster_name
}

output "deploy_role_arn" {
  description = "Role for the GitHub environment's AWS_DEPLOY_ROLE_ARN variable."
  value       = module.ci.deploy_role_arn
}

output "ecr_repository_url" {
  description = "ECR repository URL."
  value       = module.ci.ecr_repository_url
}

output "addon_role_arns" {
  description = "IRSA roles of the cluster add-ons by service account (deploy/addons/README.md)."
  value       = module.eks.irsa_role_arns
}

output "vpc_id" {
  description = "VPC ID (AWS Load Balancer Controller values)."
  value       = module.network.vpc_id
}

output "aurora_cluster_id" {
  description = "Aurora cluster identifier (runbooks)."
  value       = module.aurora.cluster_id
}

output "aurora_master_user_secret_arn" {
  description = "Secret of the Aurora master user (bootstrap of the application user)."
  value       = module.aurora.master_user_secret_arn
}

output "redis_replication_group_id" {
  description = "ElastiCache replication group (runbooks)."
  value       = module.redis.replication_group_id
}

output "alarm_topic_arn" {
  description = "SNS topic of the CloudWatch alarms."
  value       = module.observability.alarm_topic_arn
}

output "nat_gateway_count" {
  description = "NAT gateways (1 in dev, one per AZ in prod)."
  value       = module.network.nat_gateway_count
}

output "aurora_writer_endpoint" {
  description = "Aurora writer endpoint (runbooks)."
  value       = module.aurora.writer_endpoint
}
