output "cluster_name" {
  description = "EKS cluster name."
  value       = aws_eks_cluster.this.name
}

output "cluster_version" {
  description = "Kubernetes version of the control plane."
  value       = aws_eks_cluster.this.version
}

output "cluster_endpoint" {
  description = "API server endpoint."
  value       = aws_eks_cluster.this.endpoint
}

output "cluster_security_group_id" {
  description = "Security group EKS attaches to the control plane and the managed nodes (and so to the pods); Aurora and Redis admit it."
  value       = aws_eks_cluster.this.vpc_config[0].cluster_security_group_id
}

output "oidc_provider_arn" {
  description = "IAM OIDC provider of the cluster (IRSA)."
  value       = aws_iam_openid_connect_provider.this.arn
}

output "txv_irsa_role_arn" {
  description = "Role of txv's service account (chart value serviceAccount.roleArn)."
  value       = aws_iam_role.irsa["txv"].arn
}

output "cluster_autoscaler_role_arn" {
  description = "Role of the cluster autoscaler's service account."
  value       = aws_iam_role.irsa["cluster-autoscaler"].arn
}

output "alb_controller_role_arn" {
  description = "Role of the AWS Load Balancer Controller's service account."
  value       = aws_iam_role.irsa["aws-load-balancer-controller"].arn
}

output "node_group_names" {
  description = "Managed node group names."
  value       = [for g in aws_eks_node_group.this : g.node_group_name]
}

output "cluster_arn" {
  description = "EKS cluster ARN."
  value       = aws_eks_cluster.this.arn
}

output "irsa_role_arns" {
  description = "IRSA roles of the cluster add-ons and txv, by service account (deploy/addons)."
  value       = { for k, r in aws_iam_role.irsa : k => r.arn }
}
