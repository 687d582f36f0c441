output "ecr_repository_url" {
  description = "ECR repository URL (chart value image.repository)."
  value       = aws_ecr_repository.this.repository_url
}

output "deploy_role_arn" {
  description = "Role GitHub Actions assumes (repository variable AWS_DEPLOY_ROLE_ARN of the environment)."
  value       = aws_iam_role.deploy.arn
}
