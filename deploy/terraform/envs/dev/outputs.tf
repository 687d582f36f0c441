output "helm_values_yaml" {
  description = "Helm values for the chart (second -f after values-<env>.yaml)."
  value       = module.txv.helm_values_yaml
}

output "helm_values_parameter" {
  description = "SSM parameter the pipeline reads the Helm values from."
  value       = module.txv.helm_values_parameter
}

output "cluster_name" {
  description = "EKS cluster name."
  value       = module.txv.cluster_name
}

output "deploy_role_arn" {
  description = "Set as AWS_DEPLOY_ROLE_ARN in the GitHub environment."
  value       = module.txv.deploy_role_arn
}

output "ecr_repository_url" {
  description = "ECR repository URL."
  value       = module.txv.ecr_repository_url
}

output "addon_role_arns" {
  description = "IRSA roles of the cluster add-ons (deploy/addons/README.md)."
  value       = module.txv.addon_role_arns
}

output "vpc_id" {
  description = "VPC ID."
  value       = module.txv.vpc_id
}

output "aurora_cluster_id" {
  description = "Aurora cluster identifier."
  value       = module.txv.aurora_cluster_id
}

output "aurora_master_user_secret_arn" {
  description = "Secret of the Aurora master user."
  value       = module.txv.aurora_master_user_secret_arn
}

output "redis_replication_group_id" {
  description = "ElastiCache replication group ID."
  value       = module.txv.redis_replication_group_id
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = module.txv.alarm_topic_arn
}

output "aurora_writer_endpoint" {
  description = "Aurora writer endpoint."
  value       = module.txv.aurora_writer_endpoint
}
